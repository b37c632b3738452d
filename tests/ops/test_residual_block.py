"""residual_block: every backend against a float64 reference, gradients, registration, errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from _conv_cases import floor_key as _key
from _conv_cases import grad_floor_key as _grad_key
from _helpers import (
    assert_close_to_reference,
    assert_partial_gradients_match,
    backend_device,
    backend_params,
    laid_out,
    random_image,
    relative_error,
    runs_on,
)

from sr_kernels import ops
from sr_kernels.ops import _registry
from sr_kernels.ops.reference import residual_block as reference
from sr_kernels.ops.triton import _conv_configs

BACKENDS = ("reference", "cpu", "triton", "cuda")
GPU = torch.cuda.is_available()


def _params(c, dtype, device):
    """Random block parameters, scaled like a trained layer (never zeros)."""
    gen = torch.Generator().manual_seed(c)
    scale = 1.0 / (3.0 * c**0.5)
    w1 = torch.randn(c, c, 3, 3, generator=gen, dtype=torch.float64) * scale
    w2 = torch.randn(c, c, 3, 3, generator=gen, dtype=torch.float64) * scale
    b1 = torch.rand(c, generator=gen, dtype=torch.float64) - 0.5
    b2 = torch.rand(c, generator=gen, dtype=torch.float64) - 0.5
    return [t.to(dtype=dtype, device=device) for t in (w1, b1, w2, b2)]


def _skip_unsupported(backend, dtype, device):
    if backend == "triton" and device.type == "cpu" and dtype == torch.bfloat16:
        pytest.skip("bfloat16 does not run under the Triton interpreter (GPU test covers it)")


def _skip_if_cuda_refuses(backend, x):
    """The CUDA kernel serves fp16/bf16 and C % 16 == 0 up to its shared-memory limit: other
    combinations (fp32) are skipped with its own reason (`test_cuda_refuses_float32` checks that
    forcing it raises)."""
    if backend != "cuda":
        return
    from sr_kernels.ops._ext import residual_block as cuda_backend

    reason = cuda_backend.supports(_registry.tensor_meta(x, channels=x.shape[1]))
    if reason is not None:
        pytest.skip(f"cuda backend: {reason}")


# (N, C, H, W, res_scale, layout): odd H != W, images smaller than a tile (8 x 16), batch 0,
# several tiles per program (2 x 17 x 23 = 12 tiles on 4 interpreter programs).
CASES = [
    (2, 16, 17, 23, 1.0, "channels_last"),
    (1, 16, 17, 23, 0.1, "contiguous"),
    (1, 32, 5, 3, 0.1, "channels_last"),
    (1, 64, 9, 11, 0.1, "channels_last"),
    (2, 16, 7, 6, 1.0, "sliced"),
    (1, 16, 6, 5, 0.1, "permuted"),
    (1, 16, 1, 1, 1.0, "channels_last"),
    (0, 16, 4, 4, 1.0, "channels_last"),
]


@pytest.mark.parametrize("backend", backend_params(*BACKENDS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_forward_matches_float64_reference(backend, dtype, case):
    n, c, h, w, res_scale, layout = case
    device = backend_device(backend)
    _skip_unsupported(backend, dtype, device)
    if backend == "triton" and device.type == "cpu" and dtype == torch.float32 and c > 16:
        pytest.skip("interpreter time: C > 16 runs in fp16 only on CPU")
    x = laid_out(random_image((n, c, h, w), dtype, device), layout)
    params = _params(c, dtype, device)
    _skip_if_cuda_refuses(backend, x)
    with ops.use_backend(backend), ops.trace() as events:
        out = ops.residual_block(x, *params, res_scale=res_scale)
    assert ("residual_block", backend) in events
    assert out.shape == x.shape and out.dtype == dtype
    channels_last = layout in ("channels_last", "sliced") and n > 0
    if channels_last:
        assert out.is_contiguous(memory_format=torch.channels_last)
    elif n > 0:
        assert out.is_contiguous()
    if n == 0:
        return
    ref64 = reference.residual_block(
        x.double().cpu(), *[p.double().cpu() for p in params], res_scale
    )
    same = reference.residual_block(x.cpu(), *[p.cpu() for p in params], res_scale)
    assert_close_to_reference(out, ref64, same, _key(backend, dtype, device))


@pytest.mark.parametrize("backend", backend_params("triton"))
def test_triton_block_with_several_k_and_n_blocks(backend):
    """Each conv's (tap, K block) steps run as one loop: with C > BLOCK_K (C = 256 on a GPU) a
    tap takes several steps. The tables give the interpreter's C one K block per tap, so this
    forces 16-channel K and N blocks at C = 32 (2 K blocks per tap, 2 output-channel blocks)."""
    device = backend_device(backend)
    x = random_image((1, 32, 9, 19), torch.float16, device).contiguous(
        memory_format=torch.channels_last
    )
    params = _params(32, torch.float16, device)
    table = _conv_configs.residual_block_config(32, torch.float16, 90)
    config = dataclasses.replace(table, block_k=16, block_n1=16, block_n2=16)
    with _conv_configs.override_configs(residual_block=config):
        with ops.use_backend(backend), ops.trace() as events:
            out = ops.residual_block(x, *params, res_scale=0.1)
    assert ("residual_block", backend) in events
    ref64 = reference.residual_block(x.double().cpu(), *[p.double().cpu() for p in params], 0.1)
    same = reference.residual_block(x.cpu(), *[p.cpu() for p in params], 0.1)
    assert_close_to_reference(out, ref64, same, torch.float16)


@pytest.mark.parametrize("backend", backend_params("triton"))
@pytest.mark.parametrize(
    "dtype, block_m1, tile_w, chunks",
    [(torch.float16, 64, 16, 3), (torch.float16, 128, 16, 2), (torch.float32, 64, 8, 1)],
    ids=["3chunks", "2chunks", "fp32_1chunk"],
)
def test_triton_block_with_every_chunk_per_step(backend, dtype, block_m1, tile_w, chunks):
    """`chunks_per_step` (conv1 runs every halo chunk in each (tap, K block) step, one
    accumulator each, so the weights load once per tile): 1, 2 and 3 chunks, several tiles with
    image borders inside them, 2 K blocks per tap."""
    device = backend_device(backend)
    _skip_unsupported(backend, dtype, device)
    x = random_image((2, 32, 17, 23), dtype, device).contiguous(memory_format=torch.channels_last)
    params = _params(32, dtype, device)
    table = _conv_configs.residual_block_config(32, dtype, 90)
    config = dataclasses.replace(  # one stage: the form the sweep times
        table, block_m1=block_m1, tile_w=tile_w, block_k=16, chunks_per_step=True, num_stages=1
    )
    assert config.halo_chunks == chunks
    with _conv_configs.override_configs(residual_block=config):
        with runs_on(backend, "residual_block"):
            out = ops.residual_block(x, *params, res_scale=0.1)
    ref64 = reference.residual_block(x.double().cpu(), *[p.double().cpu() for p in params], 0.1)
    same = reference.residual_block(x.cpu(), *[p.cpu() for p in params], 0.1)
    assert_close_to_reference(out, ref64, same, _key(backend, dtype, device))


def test_chunks_per_step_takes_at_most_three_chunks():
    table = _conv_configs.residual_block_config(64, torch.float16, 90)
    with pytest.raises(ValueError, match="at most 3 halo chunks, this tile has 6"):
        dataclasses.replace(table, tile_h=16, tile_w=16, chunks_per_step=True)


@pytest.mark.skipif(not _registry.triton_interpreting(), reason="counts the interpreter's loads")
@pytest.mark.parametrize(
    "blocks",
    [
        (128, 32, 32, 32, False),
        (128, 16, 16, 16, False),
        (128, 16, 32, 16, False),
        (64, 16, 16, 16, False),
        (64, 16, 16, 16, True),
    ],
    ids=["table", "k16_n16", "n1_32_n2_16", "3chunks", "3chunks_per_step"],
)
def test_triton_block_tile_traffic_counts_the_kernels_loads_and_stores(monkeypatch, blocks):
    """`ResBlockConfig.tile_traffic` (the L1/L2 traffic model quoted in the kernel's header and
    reported by the config sweep) equals the bytes the kernel's loads and stores ask for, counted
    in the interpreter. 6 tiles on the interpreter's 4 slots run as 3 programs x 2 steps, each
    tile once (the launcher's grid redoes no tile here; 4 programs would redo 2)."""
    import numpy as np
    from triton.runtime import interpreter

    requested = {"load": 0, "store": 0}
    load, store = (
        interpreter.InterpreterBuilder.create_masked_load,
        interpreter.InterpreterBuilder.create_masked_store,
    )

    def counting_load(self, ptrs, mask, *args):
        itemsize = np.dtype(interpreter._get_np_dtype(ptrs.get_element_ty())).itemsize
        requested["load"] += ptrs.data.size * itemsize
        return load(self, ptrs, mask, *args)

    def counting_store(self, ptrs, value, mask, *args):
        requested["store"] += value.data.size * value.data.itemsize
        return store(self, ptrs, value, mask, *args)

    monkeypatch.setattr(interpreter.InterpreterBuilder, "create_masked_load", counting_load)
    monkeypatch.setattr(interpreter.InterpreterBuilder, "create_masked_store", counting_store)
    x = random_image((1, 32, 9, 40), torch.float16, torch.device("cpu"))
    params = _params(32, torch.float16, x.device)
    block_m1, block_k, block_n1, block_n2, chunks_per_step = blocks
    config = dataclasses.replace(
        _conv_configs.residual_block_config(32, torch.float16, 90),
        block_m1=block_m1,
        block_k=block_k,
        block_n1=block_n1,
        block_n2=block_n2,
        chunks_per_step=chunks_per_step,
    )
    with _conv_configs.override_configs(residual_block=config), runs_on("triton", "residual_block"):
        ops.residual_block(x.contiguous(memory_format=torch.channels_last), *params)
    tiles = -(-9 // config.tile_h) * -(-40 // config.tile_w)
    assert tiles == 6
    traffic = config.tile_traffic(32, torch.float16)
    assert requested == {"load": tiles * traffic.load_bytes, "store": tiles * traffic.store_bytes}


def test_tile_traffic_of_the_sm90_tables():
    """The figures the kernel header quotes (bf16, 8 x 16 tiles, 3 halo chunks of 64 rows)."""

    def traffic(channels, **changes):
        table = _conv_configs.residual_block_config(channels, torch.bfloat16, 90)
        t = dataclasses.replace(table, **changes).tile_traffic(channels, torch.bfloat16)
        return t.load_bytes, t.store_bytes

    assert traffic(64) == (680448, 40960)  # 721 KB a tile, 5.6 KB per output pixel
    assert traffic(64, chunks_per_step=True) == (532736, 40960)  # 574 KB
    assert traffic(256) == (10684416, 163840)  # 85 KB per output pixel
    assert traffic(256, chunks_per_step=True) == (8324096, 163840)


def test_triton_launch_grid_redoes_fewer_tiles_than_steps(monkeypatch):
    """As few programs as finish in the steps 2 programs per SM need (132 SMs: an H100/H200)."""
    from sr_kernels.ops.triton import residual_block as triton_block

    monkeypatch.setattr(_conv_configs, "sm_count", lambda index: 132)
    config = _conv_configs.residual_block_config(64, torch.bfloat16, 90)
    cuda = torch.device("cuda", 0)
    assert triton_block.grid(288, config, cuda) == (144, 2)  # 16 x 48 x 48: was 264 x 2
    assert triton_block.grid(1020, config, cuda) == (255, 4)  # 1 x 270 x 480: was 264 x 4
    assert triton_block.grid(264, config, cuda) == (264, 1)
    assert triton_block.grid(265, config, cuda) == (133, 2)  # 1 tile redone
    for tiles in range(1, 2000, 7):
        programs, steps = triton_block.grid(tiles, config, cuda)
        assert programs <= 264 and 0 <= programs * steps - tiles < steps


@pytest.mark.parametrize("requires_grad", [False, True], ids=["no_grad", "grad"])
@pytest.mark.parametrize("res_scale", [1.0, 0.1])
def test_reference_is_the_formula_and_leaves_inputs_alone(res_scale, requires_grad):
    """The reference's in-place epilogue (out= without autograd, add_/mul_ with it) computes
    x + res_scale * conv2(relu(conv1(x))) and writes none of its inputs."""
    x = random_image((2, 16, 7, 9), torch.float64, torch.device("cpu"))
    params = _params(16, torch.float64, torch.device("cpu"))
    inputs = [t.clone().requires_grad_(requires_grad) for t in [x, *params]]
    before = [t.detach().clone() for t in inputs]
    out = reference.residual_block(*inputs, res_scale)
    w1, b1, w2, b2 = before[1:]
    hidden = torch.nn.functional.conv2d(before[0], w1, b1, padding=1).clamp_min(0)
    expected = before[0] + res_scale * torch.nn.functional.conv2d(hidden, w2, b2, padding=1)
    torch.testing.assert_close(out.detach(), expected, rtol=1e-12, atol=1e-12)
    assert out.requires_grad == requires_grad
    for name, t, t0 in zip(("x", "w1", "b1", "w2", "b2"), inputs, before):
        assert torch.equal(t.detach(), t0), f"{name} was written"


@pytest.mark.parametrize("backend", backend_params("reference", "cpu", "triton"))
def test_gradient_past_a_nan_hidden_like_the_reference(backend, monkeypatch):
    """Where the hidden activation is NaN, ReLU's backward passes the gradient on (as eager's
    threshold_backward and the CUDA backend's); a `where(r > 0, ...)` mask dropped it."""
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # GPU: cuDNN backward
    device = backend_device(backend)
    x = random_image((1, 16, 6, 5), torch.float32, device)
    x[0, 3, 2, 2] = float("nan")
    params = _params(16, torch.float32, device)

    def grad_x(block, *args):
        inputs = [t.detach().clone().requires_grad_() for t in args]
        return torch.autograd.grad(block(*inputs, 0.1).sum(), inputs[0])[0]

    with runs_on(backend, "residual_block"):
        ours = grad_x(ops.residual_block, x, *params)
    expected = grad_x(reference.residual_block, *[t.double().cpu() for t in (x, *params)])
    assert torch.isfinite(expected).all()
    assert_close_to_reference(ours, expected, None, _grad_key(backend, device))


@pytest.mark.parametrize("res_scale", [1.0, 0.1])
def test_reference_forward_mode_ad(res_scale):
    """torch.func.jvp and forward_ad through the reference (the README's forward-mode backend):
    its no-grad epilogue wrote through out=, which forward AD refuses. The tangent against a
    central difference in float64."""
    cpu = torch.device("cpu")
    x = random_image((1, 16, 5, 7), torch.float64, cpu)
    params = _params(16, torch.float64, cpu)
    tangent = random_image(x.shape, torch.float64, cpu) - 0.5

    def block(v):
        return ops.residual_block(v, *params, res_scale=res_scale)

    with ops.use_backend("reference"), ops.trace() as events:
        _, jvp_tangent = torch.func.jvp(block, (x,), (tangent,))
        with torch.autograd.forward_ad.dual_level():
            dual = torch.autograd.forward_ad.make_dual(x, tangent)
            dual_tangent = torch.autograd.forward_ad.unpack_dual(block(dual)).tangent
        eps = 1e-6
        difference = (block(x + eps * tangent) - block(x - eps * tangent)) / (2 * eps)
    assert set(events) == {("residual_block", "reference")}
    assert relative_error(jvp_tangent, difference) <= 1e-8
    assert torch.equal(dual_tangent, jvp_tangent)


@pytest.mark.parametrize("requires_grad", [False, True], ids=["no_grad", "grad"])
def test_reference_res_scale_beyond_the_dtype_range(requires_grad):
    """fp16 with res_scale = 7e4 (> 65504) and small weights: the product fits, and the
    reference computes it with or without autograd (torch.add refused the alpha)."""
    cpu = torch.device("cpu")
    x = random_image((1, 16, 5, 7), torch.float16, cpu)
    params = [(p * 1e-3).requires_grad_(requires_grad) for p in _params(16, torch.float16, cpu)]
    with ops.use_backend("reference"):
        out = ops.residual_block(x, *params, res_scale=7e4)
    ref64 = reference.residual_block(x.double(), *[p.detach().double() for p in params], 7e4)
    assert torch.isfinite(ref64).all() and ref64.abs().max() > 1.0  # the scaled branch counts
    assert_close_to_reference(out.detach(), ref64, None, torch.float16)


@pytest.mark.parametrize("res_scale", [1.0, 0.1])  # 1: the backward skips its scaling
@pytest.mark.parametrize("backend", backend_params(*BACKENDS))
def test_gradients_match_reference_autograd(backend, res_scale):
    device = backend_device(backend)
    x = random_image((2, 16, 9, 7), torch.float32, device).contiguous(
        memory_format=torch.channels_last
    )
    params = _params(16, torch.float32, device)
    _skip_if_cuda_refuses(backend, x)  # fp32 (cuda: test_conv_cuda checks fp16/bf16 gradients)
    inputs = [t.clone().requires_grad_() for t in [x, *params]]
    with runs_on(backend, "residual_block"):
        out = ops.residual_block(*inputs, res_scale=res_scale)
    weights = random_image(out.shape, torch.float32, device)
    grads = torch.autograd.grad((out * weights).sum(), inputs)
    inputs64 = [t.detach().double().cpu().requires_grad_() for t in inputs]
    out64 = reference.residual_block(*inputs64, res_scale)
    grads64 = torch.autograd.grad((out64 * weights.double().cpu()).sum(), inputs64)
    inputs32 = [t.detach().cpu().requires_grad_() for t in inputs]
    out32 = reference.residual_block(*inputs32, res_scale)
    grads32 = torch.autograd.grad((out32 * weights.cpu()).sum(), inputs32)
    key = _grad_key(backend, device)
    for name, g, g64, g32 in zip(("x", "w1", "b1", "w2", "b2"), grads, grads64, grads32):
        assert g.shape == g64.shape, name
        assert_close_to_reference(g, g64, g32, key)


def test_gradcheck_reference_float64():
    x = torch.rand(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    params = [t.requires_grad_() for t in _params(2, torch.float64, "cpu")]
    assert torch.autograd.gradcheck(
        lambda *a: reference.residual_block(*a, 0.5), (x, *params), eps=1e-6, atol=1e-6
    )


@pytest.mark.parametrize("res_scale", [1.0, 0.5])
@pytest.mark.parametrize("backend", backend_params("cpu"))
def test_gradcheck_extension_op_float64(backend, res_scale):
    """The extension op's autograd formula (C++, shared by the CPU and CUDA kernels: recompute
    the intermediate, then cuDNN/oneDNN gradient convolutions) against finite differences,
    first and second order, through the CPU kernel; res_scale 1 skips a scaling."""
    x = torch.rand(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    params = [t.requires_grad_() for t in _params(2, torch.float64, "cpu")]

    def block(*args):
        return torch.ops.sr_kernels.residual_block(*args, res_scale)

    assert torch.autograd.gradcheck(block, (x, *params), eps=1e-6, atol=1e-6)
    assert torch.autograd.gradgradcheck(block, (x, *params), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("needs", ["x", "w1", "b2", "w2_b2"])
@pytest.mark.parametrize("backend", backend_params("cpu"))
def test_extension_backward_computes_only_what_is_needed(backend, needs):
    """Gradients for a subset of the inputs (frozen layers, autograd.grad on some of them) equal
    the reference's, and the others stay None."""
    x = random_image((1, 16, 6, 7), torch.float64, torch.device("cpu"))
    assert_partial_gradients_match(
        torch.ops.sr_kernels.residual_block,
        reference.residual_block,
        [x, *_params(16, torch.float64, "cpu")],
        ("x", "w1", "b1", "w2", "b2"),
        needs.split("_"),
        0.1,
    )


@pytest.mark.parametrize("needs", ["x", "w1", "b2", "w2_b2"])
@pytest.mark.parametrize("backend", backend_params("triton"))
def test_triton_backward_computes_only_what_is_needed(backend, needs):
    """Gradients for a subset of the inputs equal the reference's, and the Triton op's backward
    asks convolution_backward for those only (it computed all five, e.g. every frozen weight's)."""
    device = backend_device(backend)
    x = random_image((1, 16, 6, 7), torch.float32, device)
    names = ("x", "w1", "b1", "w2", "b2")
    wanted = needs.split("_")
    need = {n: n in wanted for n in names}
    first = need["x"] or need["w1"] or need["b1"]  # conv1's gradients need conv2's data gradient
    masks = [(first, need["w2"], need["b2"])] + [(need["x"], need["w1"], need["b1"])] * first

    def block(*args):
        with ops.use_backend(backend):
            return ops.residual_block(*args)

    assert_partial_gradients_match(
        block, reference.residual_block, [x, *_params(16, torch.float32, device)], names, wanted,
        0.1, key=_grad_key(backend, device), masks=masks,
    )  # fmt: skip


@pytest.mark.parametrize("backend", backend_params("cpu"))
def test_extension_cpu_kernel_names_bad_arguments(backend):
    """A direct torch.ops call (no Python validation) is refused by the C++ checks, which name
    the argument."""
    x = random_image((1, 16, 4, 4), torch.float32, torch.device("cpu"))
    w1, b1, w2, b2 = _params(16, torch.float32, "cpu")
    op = torch.ops.sr_kernels.residual_block
    with pytest.raises(ValueError, match="argument 'w1': expected shape"):
        op(x, w1[:8], b1, w2, b2, 0.1)
    with pytest.raises(TypeError, match="argument 'b2': expected dtype"):
        op(x, w1, b1, w2, b2.double(), 0.1)
    with pytest.raises(TypeError, match="argument 'x': expected a floating dtype"):
        op(x.to(torch.int32), w1, b1, w2, b2, 0.1)
    with pytest.raises(ValueError, match="argument 'x': expected a 4-D tensor"):
        op(x[0], w1, b1, w2, b2, 0.1)


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("backend", backend_params("cpu"))
def test_opcheck_extension_op_on_cpu(backend, channels_last):
    """Schema, fake kernel, autograd registration and AOT dispatch of sr_kernels::residual_block
    through its CPU kernel (test_conv_cuda runs the same on the CUDA kernel)."""
    x = random_image((2, 5, 6, 7), torch.float32, torch.device("cpu"))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    params = _params(5, torch.float32, "cpu")
    op = torch.ops.sr_kernels.residual_block.default
    torch.library.opcheck(op, (x, *params, 0.1))
    grad_args = tuple(t.clone().requires_grad_() for t in (x, *params))
    torch.library.opcheck(op, (*grad_args, 0.1))


@pytest.mark.parametrize("backend", backend_params("triton"))
def test_opcheck_triton_op(backend):
    import sr_kernels.ops.triton.residual_block  # noqa: F401  registers the custom op

    device = backend_device(backend)
    x = random_image((1, 16, 5, 6), torch.float32, device).contiguous(
        memory_format=torch.channels_last
    )
    params = [p.requires_grad_() for p in _params(16, torch.float32, device)]
    torch.library.opcheck(
        torch.ops.sr_kernels.residual_block_triton,
        (x.requires_grad_(), *params, 0.1, True),
        test_utils=("test_schema", "test_autograd_registration", "test_faketensor"),
    )


@pytest.mark.parametrize("backend", backend_params("reference", "triton"))
def test_torch_compile_fullgraph_small_model(backend):
    """A tiny EDSR-like network (head, one block, x2 upsampler, tail) compiled with fullgraph."""
    device = backend_device(backend)
    torch._dynamo.reset()
    c = 16
    gen = torch.Generator().manual_seed(1)
    head_w = (torch.randn(c, 3, 3, 3, generator=gen) * 0.2).to(device)
    head_b = torch.rand(c, generator=gen).to(device)
    up_w = (torch.randn(4 * c, c, 3, 3, generator=gen) * 0.05).to(device)
    up_b = torch.rand(4 * c, generator=gen).to(device)
    tail_w = (torch.randn(3, c, 3, 3, generator=gen) * 0.05).to(device)
    tail_b = torch.rand(3, generator=gen).to(device)
    block = _params(c, torch.float64, device)
    weights64 = [t.double() for t in (head_w, head_b, *block, up_w, up_b, tail_w, tail_b)]

    def network(x, head_w, head_b, w1, b1, w2, b2, up_w, up_b, tail_w, tail_b):
        y = ops.conv2d_act(x, head_w, head_b, activation="none")
        y = ops.residual_block(y, w1, b1, w2, b2, res_scale=0.1)
        y = ops.conv_pixel_shuffle(y, up_w, up_b, 2)
        return ops.conv2d_act(y, tail_w, tail_b, padding_mode="replicate", activation="relu")

    weights = [t.float() for t in weights64]

    def model(x):
        return network(x, *weights)

    x = random_image((1, 3, 5, 7), torch.float32, device).contiguous(
        memory_format=torch.channels_last
    )
    with ops.use_backend("reference"):
        ref64 = network(x.double().cpu(), *[t.cpu() for t in weights64])
        same = network(x.cpu(), *[t.cpu() for t in weights])  # fp32, not TF32 (cuDNN's default)
    # Compiled first: an op may be selected for the first time inside the compiled region (the
    # registry's implementation slots are read by attribute, which dynamo sees filled later).
    with ops.use_backend(backend), ops.trace() as events:
        out = torch.compile(model, fullgraph=True)(x)
    with ops.use_backend(backend):
        eager = model(x)
    assert_close_to_reference(eager, ref64, same, torch.float32)
    assert out.shape == (1, 3, 10, 14)
    # Inductor fuses the reference's elementwise epilogues (other roundings than eager's).
    assert_close_to_reference(out, ref64, same, torch.float32)
    assert ("residual_block", backend) in events
    assert ("conv_pixel_shuffle", backend) in events


@pytest.mark.parametrize("backend", backend_params("cpu"))
def test_torch_compile_fullgraph_training_on_the_extension_op(backend):
    """Two blocks and an x2 upsampler compiled with fullgraph, forward and backward:
    AOTAutograd traces the extension ops' C++ autograd formulas (the cuda backend's, here
    through their CPU kernels)."""
    torch._dynamo.reset()
    first, second = _params(16, torch.float32, "cpu"), _params(16, torch.float32, "cpu")
    gen = torch.Generator().manual_seed(3)
    up_w = torch.randn(64, 16, 3, 3, generator=gen) * 0.05
    up_b = torch.rand(64, generator=gen)
    weights = [t.requires_grad_() for t in (*first, *second, up_w, up_b)]

    def model(x):
        y = ops.residual_block(x, *weights[:4], res_scale=0.1)
        y = ops.residual_block(y, *weights[4:8], res_scale=1.0)
        return ops.conv_pixel_shuffle(y, weights[8], weights[9], 2)

    x = random_image((2, 16, 7, 9), torch.float32, torch.device("cpu")).contiguous(
        memory_format=torch.channels_last
    )
    with ops.use_backend(backend):
        eager_out = model(x)
        eager_grads = torch.autograd.grad(eager_out.square().sum(), weights)
        with ops.trace() as events:
            out = torch.compile(model, fullgraph=True)(x)
        grads = torch.autograd.grad(out.square().sum(), weights)
    assert ("residual_block", backend) in events and ("conv_pixel_shuffle", backend) in events
    assert out.shape == (2, 16, 14, 18)
    # Both against float64 (the reference backend's autograd), by STYLE.md's rule: inductor
    # fuses the loss's elementwise ops, so compiled and eager round differently.
    weights64 = [t.detach().double().requires_grad_() for t in weights]
    with ops.use_backend("reference"):
        y = ops.residual_block(x.double(), *weights64[:4], res_scale=0.1)
        y = ops.residual_block(y, *weights64[4:8], res_scale=1.0)
        out64 = ops.conv_pixel_shuffle(y, weights64[8], weights64[9], 2)
        grads64 = torch.autograd.grad(out64.square().sum(), weights64)
        same_out = model(x)
        same_grads = torch.autograd.grad(same_out.square().sum(), weights)
    for ours in (out, eager_out):
        assert_close_to_reference(ours, out64, same_out, torch.float32)
    for ours_grads in (grads, eager_grads):
        for g, g64, g_same in zip(ours_grads, grads64, same_grads):
            assert_close_to_reference(g, g64, g_same, torch.float32)


@pytest.mark.parametrize("backend", backend_params(*BACKENDS))
def test_bad_input_is_a_clear_error(backend):
    device = backend_device(backend)
    x = random_image((1, 16, 4, 4), torch.float32, device)
    w1, b1, w2, b2 = _params(16, torch.float32, device)
    with ops.use_backend(backend):
        with pytest.raises(ValueError, match=r"w1 must have shape \(C, C, 3, 3\)"):
            ops.residual_block(x, w1[:8], b1, w2, b2)
        with pytest.raises(ValueError, match=r"w2 must have shape \(C, C, 3, 3\)"):
            ops.residual_block(x, w1, b1, torch.zeros(16, 16, 5, 5, device=device), b2)
        with pytest.raises(ValueError, match=r"b2 must have shape \(C,\)"):
            ops.residual_block(x, w1, b1, w2, b2[:3])
        with pytest.raises(TypeError, match="w1 has dtype float16 but x has float32"):
            ops.residual_block(x, w1.half(), b1, w2, b2)
        with pytest.raises(ValueError, match="x must be a 4-D tensor"):
            ops.residual_block(x[0], w1, b1, w2, b2)
        with pytest.raises(TypeError, match="x has dtype int32"):
            ops.residual_block(x.to(torch.int32), w1, b1, w2, b2)
        for bad in ("0.1", True, 1j, torch.tensor(0.1)):
            with pytest.raises(
                TypeError, match=r"res_scale must be a real number \(int or float\)"
            ):
                ops.residual_block(x, w1, b1, w2, b2, res_scale=bad)
        for bad in (float("nan"), float("inf"), -float("inf")):
            with pytest.raises(ValueError, match=r"res_scale must be a finite number, got"):
                ops.residual_block(x, w1, b1, w2, b2, res_scale=bad)
        with pytest.raises(ValueError, match=r"res_scale is too large for a float, .* 401 digits"):
            ops.residual_block(x, w1, b1, w2, b2, res_scale=10**400)
        with pytest.raises(ValueError, match=r"res_scale is too large for a float, .* 5001 digits"):
            ops.residual_block(x, w1, b1, w2, b2, res_scale=10**5000)
        with pytest.raises(TypeError, match="b1 must be a torch.Tensor"):
            ops.residual_block(x, w1, None, w2, b2)


@pytest.mark.parametrize("backend", backend_params(*BACKENDS))
def test_empty_channels_or_plane_is_a_clear_error(backend):
    """C = 0 and H or W = 0 used to fail inside F.conv2d with messages about its internals;
    they are refused before dispatch on every backend. Batch 0 stays valid (CASES)."""
    device = backend_device(backend)
    with ops.use_backend(backend):
        empty = [torch.zeros(s, device=device) for s in [(0, 0, 3, 3), (0,), (0, 0, 3, 3), (0,)]]
        with pytest.raises(
            ValueError, match=r"x must have at least one channel, got shape \(2, 0, 5, 6\)"
        ):
            ops.residual_block(torch.zeros(2, 0, 5, 6, device=device), *empty)
        params = _params(16, torch.float32, device)
        for shape in [(1, 16, 0, 6), (1, 16, 5, 0), (0, 16, 0, 0)]:
            with pytest.raises(ValueError, match=r"x must have height and width >= 1, got shape"):
                ops.residual_block(torch.zeros(shape, device=device), *params)


@pytest.mark.parametrize("backend", backend_params("reference", "cpu", "triton"))
def test_numpy_scalar_res_scale(backend):
    """A res_scale taken from NumPy (np.float32, np.float64, np.int64) is a number like a float."""
    np = pytest.importorskip("numpy")
    device = backend_device(backend)
    x = random_image((1, 16, 4, 5), torch.float32, device)
    params = _params(16, torch.float32, device)
    with ops.use_backend(backend):
        for value in (np.float32(0.1), np.float64(0.25), np.int64(1)):
            out = ops.residual_block(x, *params, res_scale=value)
            expected = ops.residual_block(x, *params, res_scale=float(value))
            torch.testing.assert_close(out, expected, rtol=0, atol=0)
        with pytest.raises(TypeError, match=r"res_scale must be a real number \(int or float\)"):
            ops.residual_block(x, *params, res_scale=np.bool_(True))


def test_triton_reports_why_it_cannot_serve_other_channel_counts():
    x = random_image((1, 8, 4, 4), torch.float32)
    params = _params(8, torch.float32, "cpu")
    with ops.trace() as events:  # automatic choice on CPU: the reference
        ops.residual_block(x, *params)
    assert events == [("residual_block", "reference")]
    with ops.use_backend("triton"), pytest.raises(ops.BackendUnavailableError, match="16"):
        ops.residual_block(x, *params)


def test_allow_tf32_environment_variable(monkeypatch):
    monkeypatch.delenv("SR_KERNELS_ALLOW_TF32", raising=False)
    assert not _conv_configs.allow_tf32()
    for value in ("0", "auto"):
        monkeypatch.setenv("SR_KERNELS_ALLOW_TF32", value)
        assert not _conv_configs.allow_tf32()
    # fp32 operands: always near-fp32 tf32x3 (also when a caller passes allow_tf32=True).
    assert _conv_configs.precision(torch.float32, False) == "tf32x3"
    assert _conv_configs.precision(torch.float32, True) == "tf32x3"
    assert _conv_configs.precision(torch.float16, True) == "ieee"  # fp16/bf16: native MMA
    assert _conv_configs.precisions(torch.float32) == ("tf32x3",)
    monkeypatch.setenv("SR_KERNELS_ALLOW_TF32", "1")
    with pytest.raises(ValueError, match="single-pass TF32 is not offered"):
        _conv_configs.allow_tf32()
    monkeypatch.setenv("SR_KERNELS_ALLOW_TF32", "maybe")
    with pytest.raises(ValueError, match="SR_KERNELS_ALLOW_TF32"):
        _conv_configs.allow_tf32()


@pytest.mark.cuda
@pytest.mark.parametrize("backend", backend_params("triton", "cuda"))
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32], ids=str)
@pytest.mark.parametrize("shape", [(1, 256, 37, 41), (2, 64, 48, 48), (1, 64, 135, 240)], ids=str)
def test_gpu_large_shapes(backend, dtype, shape):
    """C = 256 (weights streamed), EDSR patches, many tiles per persistent program."""
    device = backend_device(backend)
    x = random_image(shape, dtype, device).contiguous(memory_format=torch.channels_last)
    params = _params(shape[1], dtype, device)
    _skip_if_cuda_refuses(backend, x)
    with ops.use_backend(backend), ops.trace() as events:
        out = ops.residual_block(x, *params, res_scale=0.1)
    assert ("residual_block", backend) in events
    ref64 = reference.residual_block(x.double(), *[p.double() for p in params], 0.1)
    # The same-dtype bound from the CPU: cuDNN's fp32 convolutions use TF32 by default.
    same = reference.residual_block(x.cpu(), *[p.cpu() for p in params], 0.1)
    assert_close_to_reference(out, ref64, same, _key(backend, dtype, device))


@pytest.mark.cuda
@pytest.mark.parametrize("backend", backend_params("triton"))
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32], ids=str)
@pytest.mark.parametrize("c", [16, 48, 64])
def test_gpu_persistent_programs_take_many_tiles(backend, dtype, c, monkeypatch):
    """With the SM count patched to 1, each of the few persistent programs takes about 20
    tiles: the two alternating scratch slots, the barrier between steps and the redone last
    tile run on the GPU (the interpreter runs programs one after another: no race can show).
    Three runs must also be bitwise equal."""
    monkeypatch.setattr(_conv_configs, "sm_count", lambda index: 1)
    device = backend_device(backend)
    x = random_image((2, c, 37, 53), dtype, device).contiguous(memory_format=torch.channels_last)
    params = _params(c, dtype, device)
    with ops.use_backend(backend), ops.trace() as events:
        runs = [ops.residual_block(x, *params, res_scale=0.1) for _ in range(3)]
    assert ("residual_block", backend) in events
    assert torch.equal(runs[0], runs[1]) and torch.equal(runs[0], runs[2])
    ref64 = reference.residual_block(x.double(), *[p.double() for p in params], 0.1)
    same = reference.residual_block(x.cpu(), *[p.cpu() for p in params], 0.1)
    assert_close_to_reference(runs[0], ref64, same, _key(backend, dtype, device))


@pytest.mark.cuda
@pytest.mark.parametrize("backend", backend_params("triton", "cuda"))
def test_gpu_offsets_past_2_to_the_31(backend):
    """Nine 1080p images of 256 channels (bf16): the last image starts at 4.2e9 elements, so
    every image and row offset must be 64-bit. Only the last image is compared, with eager
    PyTorch on that image alone."""
    device = backend_device(backend)
    dtype = torch.bfloat16
    first = random_image((1, 256, 1080, 1920), dtype, device)
    x = torch.cat([first.roll(7 * i, dims=3) for i in range(9)])
    x = x.contiguous(memory_format=torch.channels_last)
    assert x[8].data_ptr() - x.data_ptr() > 2**31 * x.element_size()
    params = _params(256, dtype, device)
    _skip_if_cuda_refuses(backend, x)
    with ops.use_backend(backend), ops.trace() as events:
        out = ops.residual_block(x, *params, res_scale=0.1)
    assert ("residual_block", backend) in events
    last = x[8:9]
    del x
    ref64 = reference.residual_block(last.double(), *[p.double() for p in params], 0.1)
    same = reference.residual_block(last, *params, 0.1)
    assert_close_to_reference(out[8:9], ref64, same, _key(backend, dtype, device))


@pytest.mark.parametrize("backend", backend_params(*BACKENDS))
def test_nan_spreads_like_the_reference(backend):
    """A NaN pixel reaches the same outputs as in eager PyTorch (relu keeps NaN). On the GPU,
    tl.maximum(NaN, 0) is 0: a ReLU written with it would stop the NaN at the first conv."""
    device = backend_device(backend)
    dtype = torch.float16
    x = random_image((1, 16, 12, 10), dtype, device).contiguous(memory_format=torch.channels_last)
    x[0, 3, 5, 4] = float("nan")
    params = _params(16, dtype, device)
    _skip_if_cuda_refuses(backend, x)
    with ops.use_backend(backend), ops.trace() as events:
        out = ops.residual_block(x, *params, res_scale=0.1)
    assert ("residual_block", backend) in events
    expected = reference.residual_block(x.double().cpu(), *[p.double().cpu() for p in params], 0.1)
    assert expected.isnan().any() and not expected.isnan().all()
    assert torch.equal(out.isnan().cpu(), expected.isnan())


@pytest.mark.cuda
@pytest.mark.parametrize("backend", backend_params("cuda"))
def test_cuda_refuses_float32(backend):
    """Forcing the CUDA backend on float32 raises with the reason; the automatic choice falls
    back to another backend."""
    device = backend_device(backend)
    x = random_image((1, 16, 5, 4), torch.float32, device)
    params = _params(16, torch.float32, device)
    with ops.use_backend(backend), pytest.raises(ops.BackendUnavailableError, match="float16"):
        ops.residual_block(x, *params)
    with ops.trace() as events:
        ops.residual_block(x, *params)
    assert events and ("residual_block", "cuda") not in events
