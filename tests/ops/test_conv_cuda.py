"""CUDA C++ fused convolutions: residual_block and conv_pixel_shuffle (csrc/cuda/*.cu).

GPU tests (marker `cuda`) compare the kernels with a float64 torch.nn.functional reference using
the STYLE.md tolerance rule, over odd sizes, images smaller than a tile, batch 0, C in
{16, 32, 48, 64, 128, 256}, res_scale 1 and 0.1, r 2 and 3, NCHW / channels_last / sliced
inputs; gradients against the reference's autograd; opcheck; torch.compile. The CPU tests check
the schemas, the fake kernels' shapes and strides and the capability predicates without a GPU.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from _helpers import assert_close_to_reference, backend_params, laid_out, random_image

from sr_kernels import _ext, ops

EXT = pytest.mark.skipif(not _ext.load(), reason=f"extension not loaded: {_ext.info().reason}")
HALF_DTYPES = [torch.float16, torch.bfloat16]
LAYOUTS = ["contiguous", "channels_last", "sliced", "misaligned", "offset"]


def _ext_modules():
    from sr_kernels.ops._ext import conv_pixel_shuffle as cps
    from sr_kernels.ops._ext import residual_block as rb

    return rb, cps


# ---------------------------------------------------------------------------------------------
# Reference maths (float64) and inputs.


def _block_ref(x, w1, b1, w2, b2, s):
    return x + s * F.conv2d(F.relu(F.conv2d(x, w1, b1, padding=1)), w2, b2, padding=1)


def _upsampler_ref(x, w, b, r):
    return F.pixel_shuffle(F.conv2d(x, w, b, padding=1), r)


def _weights(c_out, c_in, dtype, device):
    """Random weights scaled like a trained layer (unit-variance outputs), never zeros."""
    w = torch.randn(c_out, c_in, 3, 3, dtype=torch.float64) / (3.0 * c_in**0.5)
    b = torch.randn(c_out, dtype=torch.float64) * 0.1
    return w.to(device=device, dtype=dtype), b.to(device=device, dtype=dtype)


WEIGHT_LAYOUTS = ["contiguous", "channels_last", "strided", "misaligned"]


def _weight_layout(w, layout):
    """`w` re-laid out. The kernels read [C_out][3][3][C_in] (channels_last): channels_last is
    used as it is; the others are copied by the binding (python/conv_weight.h)."""
    if layout == "contiguous":
        return w.contiguous()
    if layout == "channels_last":
        return w.contiguous(memory_format=torch.channels_last)
    c_out, c_in, kh, kw = w.shape
    if layout == "strided":  # every other input channel of a wider tensor
        big = torch.zeros((c_out, 2 * c_in, kh, kw), dtype=w.dtype, device=w.device)
        view = big[:, ::2]
        view.copy_(w)
        return view
    if layout == "misaligned":  # channels_last strides, data pointer 2 bytes past 16
        flat = torch.empty(w.numel() + 1, dtype=w.dtype, device=w.device)
        view = flat[1:].as_strided(w.shape, (kh * kw * c_in, 1, kw * c_in, c_in))
        view.copy_(w)
        return view
    raise ValueError(layout)


def _expected_format(x):
    channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    return torch.channels_last if channels_last else torch.contiguous_format


def _poison_allocator(numel, dtype):
    """Leave NaNs in the caching allocator's free blocks so an unwritten output shows up."""
    junk = torch.full((max(numel, 1) * 2,), float("nan"), dtype=dtype, device="cuda")
    del junk


# ---------------------------------------------------------------------------------------------
# CPU: schemas, fake kernels, capability predicates.


@EXT
def test_schemas_registered():
    assert str(torch.ops.sr_kernels.residual_block.default._schema) == (
        "sr_kernels::residual_block(Tensor x, Tensor w1, Tensor b1, Tensor w2, Tensor b2, "
        "float res_scale) -> Tensor"
    )
    assert str(torch.ops.sr_kernels.conv_pixel_shuffle.default._schema) == (
        "sr_kernels::conv_pixel_shuffle(Tensor x, Tensor w, Tensor b, int r) -> Tensor"
    )


@EXT
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("dtype", HALF_DTYPES, ids=str)
def test_fake_residual_block(channels_last, dtype):
    from torch._subclasses.fake_tensor import FakeTensorMode

    _ext_modules()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    with FakeTensorMode():
        x = torch.empty(2, 64, 17, 23, dtype=dtype, device="cuda").contiguous(memory_format=fmt)
        w = torch.empty(64, 64, 3, 3, dtype=dtype, device="cuda")
        b = torch.empty(64, dtype=dtype, device="cuda")
        out = torch.ops.sr_kernels.residual_block(x, w, b, w, b, 0.1)
        assert out.shape == (2, 64, 17, 23) and out.dtype == dtype
        assert out.device.type == "cuda"
        assert out.is_contiguous(memory_format=fmt)


@EXT
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("r", [2, 3])
def test_fake_conv_pixel_shuffle(channels_last, r):
    from torch._subclasses.fake_tensor import FakeTensorMode

    _ext_modules()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    with FakeTensorMode():
        x = torch.empty(2, 64, 5, 7, dtype=torch.float16, device="cuda")
        x = x.contiguous(memory_format=fmt)
        w = torch.empty(32 * r * r, 64, 3, 3, dtype=torch.float16, device="cuda")
        b = torch.empty(32 * r * r, dtype=torch.float16, device="cuda")
        out = torch.ops.sr_kernels.conv_pixel_shuffle(x, w, b, r)
        assert out.shape == (2, 32, 5 * r, 7 * r)
        assert out.is_contiguous(memory_format=fmt)


@EXT
def test_supports_residual_block():
    rb, _ = _ext_modules()
    ok = {"device": "cuda", "dtype": torch.float16, "channels_last": True, "channels": 64}
    assert rb.supports({**ok, "device": "cpu"}) is None  # the CPU kernel: any C, any float
    assert rb.supports({**ok, "device": "cpu", "dtype": torch.float32, "channels": 3}) is None
    assert rb.supports({**ok, "device": "cpu", "dtype": torch.int32}) is not None
    assert rb.supports({**ok, "device": "meta"}) is not None
    assert rb.supports({**ok, "dtype": torch.float32}) is not None
    assert rb.supports({**ok, "channels": 24}) is not None
    assert rb.supports({**ok, "channels": 512}) is not None
    assert rb.supports({k: v for k, v in ok.items() if k != "channels"}) is not None
    if torch.cuda.is_available():
        assert rb.supports(ok) is None
    assert rb.min_shared_bytes(256) == ((8 * 12) + (6 * 10)) * 264 * 2 + 3 * 128 * 40 * 2


@EXT
def test_supports_conv_pixel_shuffle():
    _, cps = _ext_modules()
    ok = {"device": "cuda", "dtype": torch.bfloat16, "channels": 64, "out_channels": 256, "r": 2}
    assert cps.supports(ok) is None
    assert cps.supports({**ok, "r": 3, "out_channels": 576}) is None
    assert cps.supports({**ok, "r": 4, "out_channels": 1024}) is not None
    assert cps.supports({**ok, "out_channels": 8 * 4}) is not None  # C_out = 8 for r = 2
    assert cps.supports({**ok, "r": 3, "out_channels": 8 * 9}) is None
    assert cps.supports({**ok, "channels": 3}) is not None
    assert cps.supports({**ok, "dtype": torch.float32}) is not None
    # The CPU kernel (ATen composite, test_conv_pixel_shuffle covers it): any r, C, float dtype.
    assert cps.supports({**ok, "device": "cpu", "r": 4, "channels": 3}) is None
    assert cps.supports({**ok, "device": "cpu", "dtype": torch.int32}) is not None
    assert cps.supports({**ok, "device": "meta"}) is not None


# ---------------------------------------------------------------------------------------------
# GPU: residual_block.

BLOCK_SHAPES = [
    (1, 16, 17, 23),
    (2, 32, 17, 23),
    (1, 48, 11, 7),  # C not a multiple of 64: partial 64-channel pass
    (2, 64, 17, 23),
    (1, 64, 1, 1),  # smaller than a tile
    (1, 64, 3, 5),
    (2, 64, 40, 36),  # several tiles (8 x 8 on an H100: the tile is chosen per shape)
    (16, 64, 48, 48),  # EDSR's training batch: 12 x 24 tiles on an H100 (8 x 8 with 4 warps)
    (1, 128, 12, 20),
    (1, 256, 9, 10),  # wide configuration, weights streamed
    (2, 256, 17, 23),
]


# The CUDA block's configurations for C <= 128 (residual_block.cu), chosen per call:
# SR_KERNELS_RESBLOCK_CUDA_WARPS "8" (default) or "4" (two blocks per SM, 8 x 16 tiles, where two
# fit in an SM's shared memory: C <= 64 on an H100 / H200; else "8"), and SR_KERNELS_CUDA_WGMMA
# "0" (default: mma.sync) or "1" (Hopper's warpgroup MMA, where the build has sm_90a code and the
# GPU is compute capability 9.0; else mma.sync). test_block_configuration_that_runs checks which.
NARROW_CONFIGS = [("8", "0"), ("4", "0"), ("8", "1"), ("4", "1")]
NARROW_IDS = ["8warps", "4warps", "8warps-wgmma", "4warps-wgmma"]


def _narrow_config(monkeypatch, config):
    warps, wgmma = config
    monkeypatch.setenv("SR_KERNELS_RESBLOCK_CUDA_WARPS", warps)
    monkeypatch.setenv("SR_KERNELS_CUDA_WGMMA", wgmma)


@pytest.mark.cuda
@pytest.mark.parametrize("config", NARROW_CONFIGS, ids=NARROW_IDS)
@pytest.mark.parametrize("res_scale", [1.0, 0.1])
@pytest.mark.parametrize("dtype", HALF_DTYPES, ids=str)
@pytest.mark.parametrize("shape", BLOCK_SHAPES, ids=str)
def test_residual_block_forward(shape, dtype, res_scale, config, monkeypatch):
    _narrow_config(monkeypatch, config)
    n, c, h, w = shape
    x = random_image(shape, dtype, "cuda").contiguous(memory_format=torch.channels_last)
    w1, b1 = _weights(c, c, dtype, "cuda")
    w2, b2 = _weights(c, c, dtype, "cuda")
    _poison_allocator(x.numel(), dtype)
    with ops.use_backend("cuda"), ops.trace() as events:
        out = ops.residual_block(x, w1, b1, w2, b2, res_scale)
    assert ("residual_block", "cuda") in events
    assert out.shape == shape and out.dtype == dtype
    assert out.is_contiguous(memory_format=torch.channels_last)
    args64 = [t.double() for t in (x, w1, b1, w2, b2)]
    ref64 = _block_ref(*args64, res_scale)
    same = _block_ref(x, w1, b1, w2, b2, res_scale)
    assert_close_to_reference(out, ref64, same, dtype)


@pytest.mark.cuda
@pytest.mark.parametrize("config", NARROW_CONFIGS, ids=NARROW_IDS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", HALF_DTYPES, ids=str)
def test_residual_block_layouts(layout, dtype, config, monkeypatch):
    _narrow_config(monkeypatch, config)
    shape = (2, 64, 17, 23)
    values = random_image(shape, dtype, "cuda")
    x = laid_out(values, layout)
    w1, b1 = _weights(64, 64, dtype, "cuda")
    w2, b2 = _weights(64, 64, dtype, "cuda")
    _poison_allocator(x.numel(), dtype)
    with ops.use_backend("cuda"), ops.trace() as events:
        out = ops.residual_block(x, w1, b1, w2, b2, 0.1)
    assert ("residual_block", "cuda") in events
    assert out.is_contiguous(memory_format=_expected_format(x))
    ref64 = _block_ref(*[t.double() for t in (values, w1, b1, w2, b2)], 0.1)
    same = _block_ref(values, w1, b1, w2, b2, 0.1)
    assert_close_to_reference(out, ref64, same, dtype)


@pytest.mark.cuda
@pytest.mark.parametrize("config", NARROW_CONFIGS, ids=NARROW_IDS)
@pytest.mark.parametrize("weight_layout", WEIGHT_LAYOUTS)
def test_residual_block_weight_layouts(weight_layout, config, monkeypatch):
    _narrow_config(monkeypatch, config)
    dtype = torch.bfloat16
    x = random_image((2, 32, 17, 23), dtype, "cuda").contiguous(memory_format=torch.channels_last)
    w1, b1 = _weights(32, 32, dtype, "cuda")
    w2, b2 = _weights(32, 32, dtype, "cuda")
    laid_out = [_weight_layout(w, weight_layout) for w in (w1, w2)]
    with ops.use_backend("cuda"), ops.trace() as events:
        out = ops.residual_block(x, laid_out[0], b1, laid_out[1], b2, 0.1)
    assert ("residual_block", "cuda") in events
    ref64 = _block_ref(*[t.double() for t in (x, w1, b1, w2, b2)], 0.1)
    assert_close_to_reference(out, ref64, _block_ref(x, w1, b1, w2, b2, 0.1), dtype)


@pytest.mark.cuda
@pytest.mark.parametrize("config", NARROW_CONFIGS, ids=NARROW_IDS)
def test_block_configuration_that_runs(config, monkeypatch):
    """The settings pick the kernels they name (C = 64, bf16). Two 4-warp blocks fit in an SM
    on Hopper (228 KB of shared memory), not on Ampere or Ada; wgmma needs Hopper and sm_90a
    code in the build. Elsewhere the launcher falls back to the 8-warp / mma.sync kernel."""
    hopper = torch.cuda.get_device_capability() == (9, 0)
    warps = config[0] if hopper else "8"
    wgmma = config[1] == "1" and hopper and torch.ops.sr_kernels.built_with_sm90a()
    blocks_per_sm = 2 if warps == "4" else 1
    expected = f"BlockConfig<{warps}, 1, 3, 8, 64, 3, {blocks_per_sm}, {str(wgmma).lower()}>"
    _narrow_config(monkeypatch, config)
    x = random_image((1, 64, 24, 40), torch.bfloat16, "cuda")
    x = x.contiguous(memory_format=torch.channels_last)
    w1, b1 = _weights(64, 64, torch.bfloat16, "cuda")
    w2, b2 = _weights(64, 64, torch.bfloat16, "cuda")
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        torch.ops.sr_kernels.residual_block(x, w1, b1, w2, b2, 1.0)
        torch.cuda.synchronize()
    kernels = [e.name for e in prof.events() if "residual_block_kernel" in e.name]
    assert kernels and all(expected in name for name in kernels), kernels


@pytest.mark.cuda
@pytest.mark.parametrize("config", NARROW_CONFIGS, ids=NARROW_IDS)
def test_tile_choice_does_not_change_the_result(config, monkeypatch):
    """The launchers choose tiles per shape (csrc/common/conv_tiles.h: on 4 x 48 x 48 and an
    H100 or A100, 8 x 16 for the residual block with 8 warps, 8 x 8 with 4, and 8 x 16 for the
    upsampler); SR_KERNELS_CONV_CUDA_TILES=largest takes the largest that fits (16 x 16, 8 x 16
    with 4 warps). Every output, and every recomputed halo value of the intermediate, sums the
    same products in the same order whatever the tile: the results are bitwise equal."""
    _narrow_config(monkeypatch, config)
    x = random_image((4, 64, 48, 48), torch.bfloat16, "cuda")
    x = x.contiguous(memory_format=torch.channels_last)
    w1, b1 = _weights(64, 64, torch.bfloat16, "cuda")
    w2, b2 = _weights(64, 64, torch.bfloat16, "cuda")
    wu, bu = _weights(256, 64, torch.bfloat16, "cuda")
    results = []
    for rule in ("", "largest"):
        monkeypatch.setenv("SR_KERNELS_CONV_CUDA_TILES", rule)
        block = torch.ops.sr_kernels.residual_block(x, w1, b1, w2, b2, 0.1)
        upsampled = torch.ops.sr_kernels.conv_pixel_shuffle(x, wu, bu, 2)
        results.append((block, upsampled))
    assert torch.equal(results[0][0], results[1][0])
    assert torch.equal(results[0][1], results[1][1])


@pytest.mark.cuda
def test_residual_block_batch0_and_deterministic():
    w1, b1 = _weights(64, 64, torch.float16, "cuda")
    x0 = torch.empty(0, 64, 8, 8, dtype=torch.float16, device="cuda")
    out0 = torch.ops.sr_kernels.residual_block(x0, w1, b1, w1, b1, 1.0)
    assert out0.shape == (0, 64, 8, 8)
    x = random_image((1, 64, 33, 31), torch.float16, "cuda")
    x = x.contiguous(memory_format=torch.channels_last)
    first = torch.ops.sr_kernels.residual_block(x, w1, b1, w1, b1, 0.5)
    second = torch.ops.sr_kernels.residual_block(x, w1, b1, w1, b1, 0.5)
    assert torch.equal(first, second)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", HALF_DTYPES, ids=str)
@pytest.mark.parametrize("c", [16, 64])
@pytest.mark.parametrize("res_scale", [1.0, 0.1])  # 1: the backward skips its scaling
def test_residual_block_gradients(dtype, c, res_scale):
    shape = (2, c, 9, 11)
    x = random_image(shape, dtype, "cuda").contiguous(memory_format=torch.channels_last)
    params = [*_weights(c, c, dtype, "cuda"), *_weights(c, c, dtype, "cuda")]
    grad_out = torch.randn(shape, dtype=torch.float64, device="cuda").to(dtype)

    def grads(fn, tensors):
        leaves = [t.detach().clone().requires_grad_() for t in tensors]
        fn(*leaves, res_scale).backward(grad_out.to(leaves[0].dtype))
        return [leaf.grad for leaf in leaves]

    ours = grads(lambda *a: torch.ops.sr_kernels.residual_block(*a[:5], a[5]), [x, *params])
    ref64 = grads(_block_ref, [t.double() for t in (x, *params)])
    same = grads(_block_ref, [x, *params])
    for name, g, r64, s in zip(["x", "w1", "b1", "w2", "b2"], ours, ref64, same):
        assert g is not None and g.shape == r64.shape, name
        assert_close_to_reference(g, r64, s, dtype)


@pytest.mark.cuda
@pytest.mark.parametrize("channels_last", [False, True])
def test_residual_block_opcheck(channels_last):
    x = random_image((2, 16, 6, 7), torch.float16, "cuda")
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    w1, b1 = _weights(16, 16, torch.float16, "cuda")
    w2, b2 = _weights(16, 16, torch.float16, "cuda")
    args = (x, w1, b1, w2, b2, 0.1)
    torch.library.opcheck(torch.ops.sr_kernels.residual_block.default, args)
    grad_args = tuple(t.detach().clone().requires_grad_() for t in args[:5]) + (0.1,)
    torch.library.opcheck(torch.ops.sr_kernels.residual_block.default, grad_args)


@pytest.mark.cuda
def test_residual_block_errors():
    x = random_image((1, 64, 8, 8), torch.float16, "cuda")
    w, b = _weights(64, 64, torch.float16, "cuda")
    op = torch.ops.sr_kernels.residual_block
    with pytest.raises(ValueError, match="w1"):
        op(x, w[:, :32], b, w, b, 1.0)
    with pytest.raises(ValueError, match="b2"):
        op(x, w, b, w, b[:32], 1.0)
    with pytest.raises(TypeError, match="x"):
        op(x.float(), w.float(), b.float(), w.float(), b.float(), 1.0)
    with pytest.raises(TypeError, match="w2"):
        op(x, w, b, w.bfloat16(), b, 1.0)
    with pytest.raises(ValueError, match="x"):
        op(x[:, :24], w[:24, :24], b[:24], w[:24, :24], b[:24], 1.0)
    with pytest.raises(ValueError, match="x"):
        op(x[0], w, b, w, b, 1.0)
    x24 = random_image((1, 24, 8, 8), torch.float16, "cuda")
    w24, b24 = _weights(24, 24, torch.float16, "cuda")
    with ops.use_backend("cuda"), pytest.raises(ops.BackendUnavailableError, match="multiple"):
        ops.residual_block(x24, w24, b24, w24, b24)


# ---------------------------------------------------------------------------------------------
# GPU: conv_pixel_shuffle.

# (N, C_in, H, W, C_out, r)
UPSAMPLER_SHAPES = [
    (1, 64, 17, 23, 64, 2),  # EDSR x2 / x4 stage
    (2, 16, 5, 7, 16, 3),
    (1, 32, 17, 23, 16, 2),
    (1, 64, 9, 10, 64, 3),  # EDSR x3
    (1, 16, 1, 1, 16, 2),  # smaller than a tile
    (2, 64, 33, 20, 64, 2),
    (1, 256, 8, 12, 32, 2),
    (1, 48, 6, 9, 8, 3),
    (16, 64, 48, 48, 64, 2),  # EDSR's training batch: 8 x 16 tiles on an H100
]


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", HALF_DTYPES, ids=str)
@pytest.mark.parametrize("shape", UPSAMPLER_SHAPES, ids=str)
def test_conv_pixel_shuffle_forward(shape, dtype):
    n, c_in, h, w, c_out, r = shape
    x = random_image((n, c_in, h, w), dtype, "cuda").contiguous(memory_format=torch.channels_last)
    weight, bias = _weights(c_out * r * r, c_in, dtype, "cuda")
    _poison_allocator(n * c_out * h * w * r * r, dtype)
    with ops.use_backend("cuda"), ops.trace() as events:
        out = ops.conv_pixel_shuffle(x, weight, bias, r)
    assert ("conv_pixel_shuffle", "cuda") in events
    assert out.shape == (n, c_out, h * r, w * r) and out.dtype == dtype
    # A 1x1 image is both NCHW- and NHWC-contiguous; the op then returns plain contiguous output.
    assert out.is_contiguous(memory_format=_expected_format(x))
    ref64 = _upsampler_ref(x.double(), weight.double(), bias.double(), r)
    assert_close_to_reference(out, ref64, _upsampler_ref(x, weight, bias, r), dtype)


@pytest.mark.cuda
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("r", [2, 3])
def test_conv_pixel_shuffle_layouts(layout, r):
    dtype = torch.bfloat16
    values = random_image((2, 32, 11, 13), dtype, "cuda")
    x = laid_out(values, layout)
    weight, bias = _weights(16 * r * r, 32, dtype, "cuda")
    _poison_allocator(2 * 16 * 11 * 13 * r * r, dtype)
    with ops.use_backend("cuda"), ops.trace() as events:
        out = ops.conv_pixel_shuffle(x, weight, bias, r)
    assert ("conv_pixel_shuffle", "cuda") in events
    assert out.is_contiguous(memory_format=_expected_format(x))
    ref64 = _upsampler_ref(values.double(), weight.double(), bias.double(), r)
    assert_close_to_reference(out, ref64, _upsampler_ref(values, weight, bias, r), dtype)


@pytest.mark.cuda
@pytest.mark.parametrize("weight_layout", WEIGHT_LAYOUTS)
def test_conv_pixel_shuffle_weight_layouts(weight_layout):
    dtype = torch.float16
    x = random_image((2, 32, 11, 13), dtype, "cuda").contiguous(memory_format=torch.channels_last)
    weight, bias = _weights(16 * 4, 32, dtype, "cuda")
    with ops.use_backend("cuda"), ops.trace() as events:
        out = ops.conv_pixel_shuffle(x, _weight_layout(weight, weight_layout), bias, 2)
    assert ("conv_pixel_shuffle", "cuda") in events
    ref64 = _upsampler_ref(x.double(), weight.double(), bias.double(), 2)
    assert_close_to_reference(out, ref64, _upsampler_ref(x, weight, bias, 2), dtype)


@pytest.mark.cuda
def test_conv_pixel_shuffle_batch0():
    weight, bias = _weights(64 * 4, 64, torch.float16, "cuda")
    x0 = torch.empty(0, 64, 8, 8, dtype=torch.float16, device="cuda")
    out = torch.ops.sr_kernels.conv_pixel_shuffle(x0, weight, bias, 2)
    assert out.shape == (0, 64, 16, 16)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", HALF_DTYPES, ids=str)
@pytest.mark.parametrize("r", [2, 3])
def test_conv_pixel_shuffle_gradients(dtype, r):
    x = random_image((2, 32, 7, 9), dtype, "cuda").contiguous(memory_format=torch.channels_last)
    weight, bias = _weights(16 * r * r, 32, dtype, "cuda")
    grad_out = torch.randn((2, 16, 7 * r, 9 * r), dtype=torch.float64, device="cuda")

    def grads(fn, tensors):
        leaves = [t.detach().clone().requires_grad_() for t in tensors]
        fn(*leaves, r).backward(grad_out.to(leaves[0].dtype))
        return [leaf.grad for leaf in leaves]

    ours = grads(torch.ops.sr_kernels.conv_pixel_shuffle, [x, weight, bias])
    ref64 = grads(_upsampler_ref, [t.double() for t in (x, weight, bias)])
    same = grads(_upsampler_ref, [x, weight, bias])
    for name, g, r64, s in zip(["x", "w", "b"], ours, ref64, same):
        assert g is not None and g.shape == r64.shape, name
        assert_close_to_reference(g, r64, s, dtype)


@pytest.mark.cuda
@pytest.mark.parametrize("r", [2, 3])
def test_conv_pixel_shuffle_opcheck(r):
    x = random_image((1, 16, 5, 6), torch.float16, "cuda").contiguous(
        memory_format=torch.channels_last
    )
    weight, bias = _weights(16 * r * r, 16, torch.float16, "cuda")
    torch.library.opcheck(torch.ops.sr_kernels.conv_pixel_shuffle.default, (x, weight, bias, r))
    grad_args = tuple(t.detach().clone().requires_grad_() for t in (x, weight, bias)) + (r,)
    torch.library.opcheck(torch.ops.sr_kernels.conv_pixel_shuffle.default, grad_args)


@pytest.mark.cuda
def test_conv_pixel_shuffle_errors():
    x = random_image((1, 64, 8, 8), torch.float16, "cuda")
    weight, bias = _weights(256, 64, torch.float16, "cuda")
    op = torch.ops.sr_kernels.conv_pixel_shuffle
    with pytest.raises(ValueError, match="r"):
        op(x, weight, bias, 4)
    with pytest.raises(ValueError, match="w"):
        op(x, weight[:, :32], bias, 2)
    with pytest.raises(ValueError, match="b"):
        op(x, weight, bias[:100], 2)
    with pytest.raises(TypeError, match="w"):
        op(x, weight.bfloat16(), bias, 2)
    with pytest.raises(ValueError, match="w"):  # C_out = 60 / 4 = 15, not a multiple of 16
        op(x, weight[:60], bias[:60], 2)


# ---------------------------------------------------------------------------------------------
# GPU: torch.compile over a small EDSR-like model on the cuda backend.


@pytest.mark.cuda
@pytest.mark.parametrize("backend", backend_params("cuda"))
def test_torch_compile_fullgraph(backend):
    torch._dynamo.reset()
    dtype = torch.float16
    w1, b1 = _weights(64, 64, dtype, "cuda")
    w2, b2 = _weights(64, 64, dtype, "cuda")
    wu, bu = _weights(64 * 4, 64, dtype, "cuda")

    def body(x):
        y = ops.residual_block(x, w1, b1, w2, b2, 0.1)
        y = ops.residual_block(y, w2, b2, w1, b1, 0.1)
        return ops.conv_pixel_shuffle(y * 1.0, wu, bu, 2)

    x = random_image((1, 64, 12, 10), dtype, "cuda").contiguous(memory_format=torch.channels_last)
    with ops.use_backend(backend), ops.trace() as events:
        compiled = torch.compile(body, fullgraph=True)
        out = compiled(x)
        eager = body(x)
    assert ("residual_block", "cuda") in events and ("conv_pixel_shuffle", "cuda") in events
    torch.testing.assert_close(out, eager, rtol=0, atol=0)
