"""imresize: every backend against the float64 reference, properties, autograd, errors, helpers.

The bit-exact checks against the MATLAB-made LR files are in test_imresize_data.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from _helpers import (
    ALL_BACKENDS,
    FLOORS,
    assert_close_to_reference,
    backend_device,
    backend_params,
    random_image,
    relative_error,
)

from sr_kernels import ops
from sr_kernels.ops import _layout
from sr_kernels.ops.imresize import resolve_size
from sr_kernels.ops.reference import imresize as reference

DTYPES = [torch.uint8, torch.float32, torch.float16, torch.bfloat16, torch.float64]
LAYOUTS = ["contiguous", "channels_last", "sliced", "permuted"]
# (shape, scale, size): odd sizes, 1-pixel images, non-integer and per-axis scales, batch 0.
CASES = [
    ((2, 3, 9, 7), 0.5, None),
    ((1, 3, 13, 11), 1 / 3.7, None),
    ((1, 2, 5, 6), 2.5, None),
    ((2, 1, 7, 10), (0.5, 1.5), None),
    ((1, 3, 1, 1), 3.0, None),
    ((1, 3, 6, 9), None, (4, 13)),
    ((0, 3, 5, 6), 0.5, None),
    # One axis at scale 1: MATLAB copies it, and the CPU kernel skips that pass.
    ((2, 3, 9, 7), (1.0, 2.5), None),
    ((1, 3, 11, 6), (0.4, 1.0), None),
]
CASE_IDS = [
    "x0.5",
    "x1/3.7",
    "x2.5",
    "per_axis",
    "1px_x3",
    "size",
    "batch0",
    "width_only",
    "height_only",
]
# The Triton interpreter runs each program in Python: a smaller set keeps it affordable.
TRITON_CASES = [0, 1, 2, 3, 4, 6]


def _make(shape, dtype, layout, device):
    n, c, h, w = shape
    if layout == "contiguous":
        return random_image(shape, dtype, device)
    if layout == "channels_last":
        return random_image(shape, dtype, device).contiguous(memory_format=torch.channels_last)
    if layout == "sliced":
        big = random_image((n, c + 1, h + 2, w + 3), dtype, device)
        return big[:, 1:, 1 : h + 1, 2 : w + 2]
    if layout == "permuted":
        return random_image((n, c, w, h), dtype, device).transpose(2, 3)
    raise ValueError(layout)


def _expected_format(x):
    channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    return torch.channels_last if channels_last else torch.contiguous_format


def _run(backend, x, *args, **kwargs):
    with ops.use_backend(backend), ops.trace() as events:
        out = ops.imresize(x, *args, **kwargs)
    assert ("imresize", backend) in events, events
    return out


def _reference(x, *args, **kwargs):
    with ops.use_backend("reference"):
        return ops.imresize(x, *args, **kwargs)


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
@pytest.mark.parametrize("edge", ["mirror", "clamp"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", range(len(CASES)), ids=CASE_IDS)
def test_matches_reference(backend, case, dtype, layout, edge):
    if backend == "triton" and (case not in TRITON_CASES or layout == "sliced"):
        pytest.skip("interpreter: reduced case set (index logic covered by the others)")
    shape, scale, size = CASES[case]
    device = backend_device(backend)
    if backend == "triton" and device.type == "cpu" and dtype == torch.bfloat16:
        pytest.skip("bfloat16 does not run under the Triton interpreter (GPU test covers it)")
    x = _make(shape, dtype, layout, device)
    out = _run(backend, x, scale, size, edge=edge)  # every backend serves every dtype and layout
    if dtype == torch.uint8:
        expected = _reference(x.cpu(), scale, size, edge=edge)
        assert out.dtype == torch.uint8 and out.shape == expected.shape
        assert torch.equal(out.cpu(), expected), "uint8 results must be exact"
    else:
        ref64 = _reference(x.cpu().double(), scale, size, edge=edge)
        assert out.dtype == dtype and out.shape == ref64.shape
        if out.numel():
            assert_close_to_reference(out, ref64, None, dtype)
    assert out.is_contiguous(memory_format=_expected_format(x))


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
def test_uint8_exact_on_larger_images(backend):
    """uint8 down- and upscaling of a bigger random image: every pixel equals the reference."""
    device = backend_device(backend)
    big = backend != "triton"  # the interpreter is slow
    x = random_image((1, 3, 96, 80) if big else (1, 3, 40, 36), torch.uint8, device)
    for scale in (1 / 4, 1 / 3, 1 / 2, 2, 3.5):
        out = _run(backend, x, scale)
        assert torch.equal(out.cpu(), _reference(x.cpu(), scale)), scale


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
@pytest.mark.parametrize("channels", [1, 3, 4, 5])
def test_uint8_exact_channels_last_larger(backend, channels):
    """channels_last uint8, batch 2, several row groups per image and pixel widths (the CPU
    width pass groups whole pixel rows, with its own path for 3 channels): exact."""
    if backend == "triton":
        pytest.skip("interpreter: channels_last covered by test_matches_reference")
    device = backend_device(backend)
    x = random_image((2, channels, 37, 29), torch.uint8, device)
    x = x.contiguous(memory_format=torch.channels_last)
    for scale in (1 / 4, 1 / 3, 2, 3.5, (0.5, 3.0)):
        out = _run(backend, x, scale)
        assert torch.equal(out.cpu(), _reference(x.cpu(), scale)), scale
        assert out.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("backend", backend_params("cpu"))
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("isa", ["avx512", "avx2", "base"])
def test_cpu_uint8_exact_per_instruction_set(backend, isa, layout, monkeypatch):
    """Every instruction-set path of the CPU kernel is exact on uint8 (SR_KERNELS_CPU_ISA lowers
    the one the processor has). Rows of 903 / 301 elements: several of the widest blocks
    (128 bytes with AVX-512) plus every remainder path; RGB rows for the AVX-512 unstaging."""
    monkeypatch.setenv("SR_KERNELS_CPU_ISA", isa)
    active = torch.ops.sr_kernels.imresize_cpu_isa()
    if active != isa:
        pytest.skip(f"this processor has no {isa} path (the CPU kernel uses {active})")
    x = _make((2, 3, 45, 301), torch.uint8, layout, "cpu")
    for scale in (1 / 4, 1 / 3, 1 / 2, 2, 3.5, 4, (0.5, 3.0)):
        out = _run(backend, x, scale)
        assert torch.equal(out, _reference(x, scale)), (isa, scale)


# The CUDA fused kernel works on output tiles of 16 rows x 128 columns x (C when the channels are
# innermost and C <= 4, else 1) channels for these sizes, the intermediate in shared memory (its
# tile_y shrinks for wide dtypes; tiles too wide for shared memory take the two-kernel path).
# Outputs spanning several tiles both ways with partial last tiles, batch > 1, C = 1, 3, 4, 5.
TILE_CASES = [
    ((2, 3, 83, 531), 0.25),  # x4 down -> 21 x 133
    ((2, 3, 7, 37), 4.0),  # x4 up -> 28 x 148
    ((3, 3, 70, 500), 1 / 3.7),  # -> 19 x 136
    ((2, 5, 9, 61), 2.5),  # -> 23 x 153, 5 channels
    ((2, 4, 41, 263), 0.5),  # -> 21 x 132, 4 channels
    ((3, 1, 35, 50), (0.5, 3.0)),  # -> 18 x 150, per axis
    ((1, 3, 500, 3100), 1 / 24),  # -> 21 x 130: 96 taps, too wide: the two-kernel path
]


@pytest.mark.parametrize("backend", backend_params("cuda"))
@pytest.mark.parametrize("fused", ["0", "1"], ids=["two-pass", "fused"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", range(len(TILE_CASES)))
def test_gpu_several_tiles(backend, case, dtype, layout, fused, monkeypatch):
    # Both CUDA kernels: the fused one (the default) and the two passes (python/ops/imresize.cpp).
    monkeypatch.setenv("SR_KERNELS_IMRESIZE_FUSED", fused)
    shape, scale = TILE_CASES[case]
    x = _make(shape, dtype, layout, backend_device(backend))
    edge = "clamp" if case % 2 else "mirror"
    out = _run(backend, x, scale, edge=edge)
    if dtype == torch.uint8:
        expected = _reference(x.cpu(), scale, edge=edge)
        assert out.shape == expected.shape
        assert torch.equal(out.cpu(), expected), "uint8 results must be exact"
    else:
        ref64 = _reference(x.cpu().double(), scale, edge=edge)
        assert out.dtype == dtype and out.shape == ref64.shape
        assert_close_to_reference(out, ref64, None, dtype)
    assert out.is_contiguous(memory_format=_expected_format(x))


# Batches large enough for the fused kernel's taller tiles (launch_fused: the tallest of 128,
# 64, 32, 16 rows that fits in shared memory and leaves >= 1024 blocks of 128 columns), which
# the small cases above never reach. The CPU kernel (itself exact against the reference in
# test_matches_reference) is the comparison: the float64 reference is slow at these sizes.
TALL_TILE_CASES = [
    ((16, 3, 256, 96), 4.0),  # up -> 1024 x 384: 3 x 8 x 48 blocks of 128 rows (NCHW)
    ((16, 3, 128, 96), 4.0),  # up -> 512 x 384: 64 rows
    ((16, 3, 1024, 2048), 0.25),  # down -> 256 x 512: 32 rows (NCHW; 64 does not fit)
]


@pytest.mark.parametrize("backend", backend_params("cuda"))
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32], ids=str)
@pytest.mark.parametrize("case", range(len(TALL_TILE_CASES)))
def test_gpu_tall_tiles(backend, case, dtype, layout):
    shape, scale = TALL_TILE_CASES[case]
    x = _make(shape, dtype, layout, backend_device(backend))
    edge = "clamp" if case % 2 else "mirror"
    out = _run(backend, x, scale, edge=edge)
    with ops.use_backend("cpu"):
        expected = ops.imresize(x.cpu(), scale, edge=edge)
    assert out.shape == expected.shape
    if dtype == torch.uint8:
        assert torch.equal(out.cpu(), expected), "uint8 results must be exact"
    else:  # both within the float32 floor of the float64 reference, so within twice it here
        assert relative_error(out, expected) <= 2 * FLOORS[dtype]
    assert out.is_contiguous(memory_format=_expected_format(x))


# Integer downscales of uint8 rows that are whole 8-byte words: the fused kernel walks each
# rows table's run (csrc/cuda/imresize.cu, height_pass_run; x2, x3 and x4 have one) and the
# columns table's (width_sums_run): in NCHW with output rows of whole 4-byte words (528 / 2, 3,
# 4 columns) or not (130 columns), and in NHWC (RGB); x2 and x4 upscales take the quad paths
# (weights that repeat every 4 outputs): the width pass's in NCHW and NHWC, the height pass's
# (height_pass_quads) over input rows that are not whole words (132 and DIV2K's 510 columns),
# unless SR_KERNELS_IMRESIZE_RUNS=0. Both ways must equal the CPU kernel bit for bit; the batch
# gives tiles taller than 16 rows, so runs are cut by tile edges.
INTEGER_SCALE_CASES = [
    ((8, 3, 390, 528), 0.5),
    ((8, 3, 390, 528), 1 / 3),
    ((8, 3, 390, 528), 0.25),
    ((4, 3, 200, 520), 0.25),
    ((2, 3, 97, 132), 2.0),
    ((2, 3, 97, 132), 4.0),
    ((2, 3, 85, 510), 4.0),
]


@pytest.mark.parametrize("backend", backend_params("cuda"))
@pytest.mark.parametrize("runs", ["0", "1"], ids=["no-runs", "runs"])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("case", range(len(INTEGER_SCALE_CASES)))
def test_gpu_integer_scale_walks(backend, case, layout, runs, monkeypatch):
    monkeypatch.setenv("SR_KERNELS_IMRESIZE_RUNS", runs)
    shape, scale = INTEGER_SCALE_CASES[case]
    x = _make(shape, torch.uint8, layout, backend_device(backend))
    edge = "clamp" if case % 2 else "mirror"
    out = _run(backend, x, scale, edge=edge)
    with ops.use_backend("cpu"):
        expected = ops.imresize(x.cpu(), scale, edge=edge)
    assert torch.equal(out.cpu(), expected), "uint8 results must be exact"
    assert out.is_contiguous(memory_format=_expected_format(x))


@pytest.mark.parametrize("backend", backend_params("cuda"))
@pytest.mark.parametrize("fused", ["0", "1"], ids=["two-pass", "fused"])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_gpu_output_past_2_to_the_31(backend, layout, fused, monkeypatch):
    """A uint8 x4 upscale whose output has more than 2^31 elements (64-bit offsets): the last
    images equal their own small resizes. Each image is the first one rolled along the width,
    so an image read or written at a wrong offset shows."""
    monkeypatch.setenv("SR_KERNELS_IMRESIZE_FUSED", fused)
    device = backend_device(backend)
    first = random_image((1, 3, 1356, 2040), torch.uint8, device)
    n = 17  # 17 * 3 * 5424 * 8160 = 2.26e9 output elements
    x = torch.cat([first.roll(37 * i, dims=3) for i in range(n)])
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    out = _run(backend, x, 4.0)
    assert out.numel() > 2**31
    for i in (0, n - 2, n - 1):
        assert torch.equal(out[i : i + 1], _run(backend, x[i : i + 1], 4.0)), i


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
@pytest.mark.parametrize("edge", ["mirror", "clamp"])
def test_properties(backend, edge):
    """Constant stays constant, scale 1 is the identity, a linear ramp survives (interior)."""
    device = backend_device(backend)
    dtype = torch.float32
    constant = torch.full((1, 2, 11, 9), 0.37, dtype=dtype, device=device)
    for scale in (0.25, 1 / 3, 2.0, 2.5):
        out = _run(backend, constant, scale, edge=edge)
        torch.testing.assert_close(out, torch.full_like(out, 0.37), rtol=0, atol=2e-6)
    x = random_image((2, 3, 7, 5), torch.uint8, device)
    assert torch.equal(_run(backend, x, 1.0, edge=edge), x)
    xf = random_image((2, 3, 7, 5), dtype, device)
    assert torch.equal(_run(backend, xf, 1.0, edge=edge), xf)
    # f(row, col) = 3*row + 2*col on 0-based pixel centres; the cubic kernel (a = -0.5)
    # reproduces linear functions, so interior outputs equal f at the sample positions.
    h, w = 24, 30
    rows = torch.arange(h, dtype=torch.float64)[:, None]
    cols = torch.arange(w, dtype=torch.float64)[None, :]
    ramp = (3 * rows + 2 * cols).to(dtype).expand(1, 1, h, w).contiguous().to(device)
    for scale in (0.5, 2.5):
        out = _run(backend, ramp, scale, edge=edge).double().cpu()[0, 0]
        oh, ow = out.shape
        u_rows = (torch.arange(1, oh + 1, dtype=torch.float64) / scale + 0.5 * (1 - 1 / scale)) - 1
        u_cols = (torch.arange(1, ow + 1, dtype=torch.float64) / scale + 0.5 * (1 - 1 / scale)) - 1
        expected = 3 * u_rows[:, None] + 2 * u_cols[None, :]
        margin = int(np.ceil(3 * max(1.0, 1 / scale) * scale)) + 1  # output pixels near borders
        inner = (slice(margin, oh - margin), slice(margin, ow - margin))
        # float32 sums of 8-16 taps: measured 2.7e-7 relative at most (values 40-150).
        torch.testing.assert_close(out[inner], expected[inner], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_smaller_scale_axis_first(backend, layout):
    """MATLAB resizes along the axis with the smaller scale first (height on a tie), and uint8
    is rounded between the passes, so the order shows. The expected image chains two one-axis
    resizes (the other axis at scale 1, an exact copy) in that order; each case is checked to
    differ between the two orders, so that the test can tell them apart."""
    device = backend_device(backend)
    x = _make((1, 3, 23, 31), torch.uint8, layout, device)
    # (scale, size): width first in the first three, height first in the last two.
    cases = [
        ((0.5, 1 / 3), None),
        ((2.5, 0.6), None),
        (None, (10, 12)),
        ((1 / 3, 0.5), None),
        ((0.6, 2.5), None),
    ]
    for scale, size in cases:
        out = _run(backend, x, scale, size)
        _, _, scale_h, scale_w = resolve_size(x.shape[2], x.shape[3], scale, size)
        width_first = _reference(_reference(x.cpu(), (1.0, scale_w)), (scale_h, 1.0))
        height_first = _reference(_reference(x.cpu(), (scale_h, 1.0)), (1.0, scale_w))
        assert not torch.equal(width_first, height_first), (scale, size)
        expected = width_first if scale_w < scale_h else height_first
        assert torch.equal(out.cpu(), expected), (scale, size)
        assert out.is_contiguous(memory_format=_expected_format(x))


def test_reference_gradcheck():
    x = torch.rand(1, 2, 6, 5, dtype=torch.float64, requires_grad=True)
    for scale in (0.5, 2.5, (1 / 3, 1.5)):
        assert torch.autograd.gradcheck(
            lambda t, s=scale: reference.imresize(t, *_sizes(t, s)), (x,)
        )


def _sizes(x, scale):
    from sr_kernels.ops.imresize import resolve_size

    out_h, out_w, sh, sw = resolve_size(x.shape[2], x.shape[3], scale, None)
    return out_h, out_w, sh, sw, True, "mirror"


@pytest.mark.parametrize("backend", backend_params("cpu", "triton", "cuda"))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("channels_last", [False, True])
def test_gradients_match_reference(backend, dtype, channels_last):
    device = backend_device(backend)
    x = random_image((2, 3, 9, 7), dtype, device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    grad_out = None
    for scale in (0.5, 2.5, (1 / 3.7, 1.5), (1.5, 1 / 3.7)):  # the last: width first
        leaf = x.clone().requires_grad_()
        out = _run(backend, leaf, scale, edge="clamp")
        grad_out = torch.rand_like(out)
        out.backward(grad_out)
        leaf_ref = x.cpu().double().clone().requires_grad_()
        with ops.use_backend("reference"):
            ops.imresize(leaf_ref, scale, edge="clamp").backward(grad_out.cpu().double())
        assert_close_to_reference(leaf.grad, leaf_ref.grad, None, dtype)


@pytest.mark.parametrize("backend", backend_params("cpu", "triton", "cuda"))
@pytest.mark.parametrize("channels_last", [False, True])
def test_float32_with_thousands_of_taps(backend, channels_last):
    """Sums of >1024 taps (_cubic.MAX_FLOAT32_TAPS) run in float64: float32 sums of 4082 taps,
    one after another, missed the 1e-6 floor (1.3e-6 on the CPU). Forward: 2040 -> 2 columns;
    backward: the adjoint of a x1000 upscale (~4000 taps per input pixel)."""
    device = backend_device(backend)
    x = random_image((2, 3, 3, 2040), torch.float32, device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    out = _run(backend, x, size=(3, 2))
    assert out.is_contiguous(memory_format=_layout.memory_format(x))
    assert_close_to_reference(out, _reference(x.cpu().double(), size=(3, 2)), None, torch.float32)
    small = random_image((1, 2, 2, 3), torch.float32, device).requires_grad_()
    grad_out = random_image((1, 2, 2, 3000), torch.float32, device)
    _run(backend, small, scale=(1, 1000)).backward(grad_out)
    small64 = small.detach().cpu().double().requires_grad_()
    _reference(small64, scale=(1, 1000)).backward(grad_out.cpu().double())
    assert_close_to_reference(small.grad, small64.grad, None, torch.float32)


# The Triton interpreter computes masked-off lanes in NumPy too, which warns on 0 * inf.
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("backend", backend_params("cpu", "triton", "cuda"))
def test_gradient_inf_stays_local(backend):
    """An inf in one gradient pixel reaches only input pixels near that output: wherever the
    reference's autograd gives a finite gradient, so does the backend. (The backward's transposed
    tables pad short rows with weight 0; at scale 1/3 every third input row has 1 tap of 4.
    Padding that pointed at output 0 gave 0 * inf = NaN in far-away rows. The reference also
    multiplies the zero weights inside a tap window, so it has a few more NaNs, not fewer.)"""
    device = backend_device(backend)
    x = random_image((1, 1, 24, 24), torch.float32, device)
    grad_out = torch.rand((1, 1, 8, 8), dtype=torch.float32, device=device)
    grad_out[0, 0, 0, 0] = float("inf")
    grads = []
    for name in (backend, "reference"):
        leaf = x.clone().requires_grad_()
        out = _run(name, leaf, 1 / 3)
        out.backward(grad_out)
        grads.append(torch.isfinite(leaf.grad.cpu()))
    finite, reference_finite = grads
    assert not reference_finite.all() and reference_finite.any()  # some pixels reached, not all
    assert not finite[0, 0, 0, 0]
    assert not (reference_finite & ~finite).any(), (finite, reference_finite)


@pytest.mark.parametrize("backend", backend_params("cpu", "triton", "cuda"))
def test_gradcheck_float64(backend):
    device = backend_device(backend)
    x = torch.rand(1, 2, 6, 5, dtype=torch.float64, device=device, requires_grad=True)

    def resize(t):
        with ops.use_backend(backend):
            return ops.imresize(t, (0.5, 2.5))

    with ops.trace() as events:
        assert torch.autograd.gradcheck(resize, (x,))
        assert torch.autograd.gradgradcheck(resize, (x,))
    assert set(events) == {("imresize", backend)}


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
def test_bad_input(backend):
    device = backend_device(backend)
    x = random_image((1, 3, 8, 8), torch.float32, device)
    with ops.use_backend(backend):
        with pytest.raises(ValueError, match="scale"):
            ops.imresize(x, 0.0)
        with pytest.raises(ValueError, match="scale"):
            ops.imresize(x, -2.0)
        with pytest.raises(ValueError, match="scale"):
            ops.imresize(x, (0.5, float("nan")))
        with pytest.raises(ValueError, match="exactly one of scale and size"):
            ops.imresize(x)
        with pytest.raises(ValueError, match="exactly one of scale and size"):
            ops.imresize(x, 0.5, (4, 4))
        with pytest.raises(ValueError, match="size"):
            ops.imresize(x, size=(0, 4))
        with pytest.raises(ValueError, match="size"):
            ops.imresize(x, size=(4, 4, 4))
        with pytest.raises(ValueError, match="4-D"):
            ops.imresize(x[0], 0.5)
        with pytest.raises(TypeError, match="dtype int32"):
            ops.imresize(x.to(torch.int32), 0.5)
        with pytest.raises(ValueError, match="edge"):
            ops.imresize(x, 0.5, edge="reflect")
        with pytest.raises(TypeError, match="scale"):
            ops.imresize(x, "2")
        with pytest.raises(ValueError, match="height and width"):
            ops.imresize(x[:, :, :0], 0.5)
        with pytest.raises(TypeError, match="x must be a torch.Tensor"):
            ops.imresize(x.numpy() if device.type == "cpu" else [1], 0.5)
        # Extreme scales and sizes: a clear error before any table is built (these asked for
        # tens of GB, or overflowed int64 and crashed in the C++ table builder).
        for scale in (1e-9, 1e-300):
            with pytest.raises(ValueError, match="scale/size: resizing the height 8 -> 1"):
                ops.imresize(x, scale)
        with pytest.raises(
            ValueError, match="output height of 8000000000000000[0-9]{15}; imresize makes at most"
        ):
            ops.imresize(x, 1e30)
        with pytest.raises(ValueError, match="weight table"):
            ops.imresize(x[:0], size=(10**9, 10**9))
        # in * scale or 4 / scale beyond float64 (an OverflowError from deep inside before).
        for scale in (1e308, 1e-310, (1e-309, 1.0)):
            with pytest.raises(ValueError, match=r"scale 1e[-+]3[01][0-9] is out of range for"):
                ops.imresize(x, scale)
        with pytest.raises(TypeError, match=r"scale\[1\] must be a real number, got None"):
            ops.imresize(x, (2.0, None))
        # A one-pixel downscale by far less than 1 / in_len: 1.3e8 taps for 4 pixels took 7.6 s
        # and 3.3 GB; refused past max(2**20, 8 (in + out) + 64) entries. 1e-3 (4002 taps) runs.
        with pytest.raises(ValueError, match="at most 1048576 for this axis"):
            ops.imresize(x[..., :4, :4], 3e-8)
        assert ops.imresize(x[..., :4, :4], 1e-3).shape[2:] == (1, 1)
        tall = torch.zeros(1, 1, 1, 1, device=device).expand(1, 1, 2**62, 1)
        with pytest.raises(ValueError, match="x has height 4611686018427387904"):
            ops.imresize(tall, size=(4, 1))
    # NumPy scalars are numbers like any other.
    expected = ops.imresize(x, 0.5)
    assert torch.equal(ops.imresize(x, np.float32(0.5)), expected)
    assert torch.equal(ops.imresize(x, size=(np.int64(4), np.int64(4))), expected)
    assert torch.equal(ops.imresize(x, size=torch.tensor([4, 4])), expected)
    assert torch.equal(ops.imresize(x, 0.5, antialias=np.bool_(True)), expected)


@pytest.mark.parametrize("backend", backend_params("cpu", "cuda"))
def test_compiled_op_refuses_huge_tables(backend):
    """Direct torch.ops calls skip the Python checks; the C++ host code refuses the same limits."""
    x = random_image((1, 1, 8, 8), torch.float32, backend_device(backend))
    with pytest.raises(ValueError, match="argument 'scale'.*weight table"):
        torch.ops.sr_kernels.imresize(x, 1, 1, 1e-9, 1e-9, True, "mirror")
    with pytest.raises(ValueError, match="argument 'scale'.*the limit for this axis is 1048576"):
        torch.ops.sr_kernels.imresize(x, 1, 1, 3e-8, 3e-8, True, "mirror")
    with pytest.raises(ValueError, match="argument 'size'.*2\\^31 - 1"):
        torch.ops.sr_kernels.imresize(x, 2**31, 1, 2**28, 0.125, True, "mirror")


def test_output_size_is_ceil():
    x = random_image((1, 1, 10, 7), torch.uint8)
    assert ops.imresize(x, 1 / 3).shape[2:] == (4, 3)  # ceil(10/3), ceil(7/3)
    assert ops.imresize(x, (0.5, 2.0)).shape[2:] == (5, 14)
    assert ops.imresize(x, size=(3, 21)).shape[2:] == (3, 21)
    # Sizes and scales computed with NumPy: 1-D arrays of two numbers.
    assert ops.imresize(x, size=np.array([3, 21])).shape[2:] == (3, 21)
    assert ops.imresize(x, np.array([0.5, 2.0])).shape[2:] == (5, 14)
    with pytest.raises(ValueError, match="size must be a pair"):
        ops.imresize(x, size=np.array([3, 21, 4]))


def test_size_with_one_axis_free():
    """size=(h, None) or (None, w), MATLAB's NaN: the other axis keeps the aspect ratio (ceil)
    and both axes take the given axis's scale."""
    assert resolve_size(23, 31, None, (10, None)) == (10, 14, 10 / 23, 10 / 23)  # ceil(13.48)
    assert resolve_size(23, 31, None, (None, 7)) == (6, 7, 7 / 31, 7 / 31)  # ceil(5.19)
    x = random_image((1, 3, 23, 31), torch.uint8)
    out = ops.imresize(x, size=(10, None))
    assert torch.equal(out, reference.imresize(x, 10, 14, 10 / 23, 10 / 23, True, "mirror"))
    assert not torch.equal(out, ops.imresize(x, size=(10, 14)))  # scale_w 14/31, not 10/23
    with pytest.raises(ValueError, match="out_height or out_width"):
        ops.imresize(x, size=(None, None))


def test_numpy_pil_helpers():
    from PIL import Image

    rgb = np.asarray(random_image((20, 18, 3), torch.uint8))
    out = ops.imresize_array(rgb, 0.5)
    assert out.shape == (10, 9, 3) and out.dtype == np.uint8
    expected = ops.imresize(torch.from_numpy(rgb).permute(2, 0, 1)[None].contiguous(), 0.5)
    assert np.array_equal(out, expected[0].permute(1, 2, 0).numpy())
    gray = rgb[..., 0].astype(np.float32) / 255
    assert ops.imresize_array(gray, 2.0).shape == (40, 36)
    image = Image.fromarray(rgb)
    small = ops.imresize_pil(image, size=(7, 5))
    assert small.size == (5, 7) and small.mode == "RGB"
    assert np.array_equal(np.asarray(ops.modcrop(image, 4)), rgb[:20, :16])
    assert ops.modcrop(rgb, 7).shape == (14, 14, 3)
    assert ops.modcrop(torch.zeros(2, 3, 9, 10), 4).shape == (2, 3, 8, 8)
    lr = ops.degrade(image, 3)
    assert lr.size == (6, 6)
    assert np.array_equal(np.asarray(lr), ops.imresize_array(rgb[:18, :18], 1 / 3))
    with pytest.raises(TypeError):
        ops.imresize_array([[1, 2]], 0.5)
    with pytest.raises(ValueError, match="positive"):
        ops.modcrop(rgb, 0)
    # Errors name the caller's array and its own shape, not the (1, C, H, W) view of it.
    with pytest.raises(
        ValueError, match=r"image must have height and width >= 1, got shape \(0, 18, 3\)"
    ):
        ops.imresize_array(rgb[:0], 2)
    with pytest.raises(TypeError, match="image has dtype int32"):
        ops.imresize_array(rgb.astype(np.int32), 2)
    for hr in (rgb, image, torch.from_numpy(rgb).permute(2, 0, 1)[None]):
        with pytest.raises(ValueError, match="scale 21 is larger than the 20x18 image"):
            ops.degrade(hr, 21)
        with pytest.raises(ValueError, match="scale 19 is larger than the 20x18 image"):
            ops.modcrop(hr, 19)  # would leave no pixels (was an empty image)
    # A tensor must be a batch: the error names degrade's argument (it named imresize's x).
    with pytest.raises(ValueError, match=r"hr must be a 4-D tensor \(N, C, H, W\), got a 3-D"):
        ops.degrade(torch.from_numpy(rgb).permute(2, 0, 1), 2)
    # Big-endian arrays (FITS, some TIFFs) resize like native ones (torch refuses to view them).
    native = gray.astype(np.float32)
    assert np.array_equal(ops.imresize_array(native.astype(">f4"), 0.5),
                          ops.imresize_array(native, 0.5))  # fmt: skip


def test_a_channels_last_tensor_is_warned_about():
    # torch.from_numpy of a NumPy / PIL image is (H, W, C): modcrop took C for the width and
    # cropped a colour channel away (2) or none of the rows (3), without a word.
    hwc = random_image((20, 18, 3), torch.uint8)
    with pytest.warns(UserWarning, match=r"looks like \(H, W, C\); modcrop takes tensors as"):
        out = ops.modcrop(hwc, 2)
    assert out.shape == (20, 18, 2)  # cropped as given: (..., H, W)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ops.modcrop(hwc.permute(2, 0, 1), 4).shape == (3, 20, 16)  # (C, H, W): no warning


def test_a_channels_first_array_is_warned_about():
    from PIL import Image

    chw = np.asarray(random_image((3, 20, 18), torch.uint8))
    with pytest.warns(UserWarning, match=r"looks like \(C, H, W\).*3x20 pixels with 18 channels"):
        out = ops.imresize_array(chw, 0.5)
    assert out.shape == (2, 10, 18)  # resized as asked: (H, W, C)
    # modcrop and degrade would crop the channel axis: warned once, at the caller's line.
    for function, call in [
        ("modcrop", lambda: ops.modcrop(chw, 2)),
        ("degrade", lambda: ops.degrade(chw, 2)),
        ("imresize_array", lambda: ops.imresize_array(chw[:2], 0.5)),
    ]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        assert len(caught) == 1, [str(w.message) for w in caught]
        assert f"{function} takes (H, W, C) arrays" in str(caught[0].message)
        assert caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hwc = np.ascontiguousarray(chw.transpose(1, 2, 0))
        ops.imresize_array(hwc, 0.5)
        ops.degrade(hwc, 2)
        ops.modcrop(hwc, 3)
        ops.imresize_array(chw[:, :, :4], 0.5)  # up to 4 channels: an image 3 pixels high
        ops.imresize_pil(Image.fromarray(chw[:, :, :4].copy(), mode="RGBA"), 0.5)
