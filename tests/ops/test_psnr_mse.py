"""psnr_mse: every backend against the float64 reference (dtypes, layouts, odd sizes, crops,
protocols), bad input, NaN, batch 0, opcheck and torch.compile. The bad-input, C++-check and
opcheck tests run for psnr too (tests/ops/test_psnr.py has the rest of its tests)."""

from __future__ import annotations

import pytest
import torch
from _helpers import ALL_BACKENDS, FLOORS, backend_device, backend_params, relative_error, runs_on
from _metric_cases import DTYPES, LAYOUTS, PROTOCOLS, make, protocol_kwargs, related_pair

from sr_kernels import ops

# (N, C, H, W): odd H != W, grey, several rows per block / image, batch 0
SHAPES = [(2, 3, 19, 23), (1, 1, 12, 11), (3, 3, 70, 41), (0, 3, 9, 9)]
FAST = ("cpu", "cuda")


def _psnr(mse: torch.Tensor) -> torch.Tensor:
    return 10.0 * torch.log10(255.0**2 / mse.double().cpu())


def _check_against_reference(backend, sr, hr, kwargs):
    with ops.use_backend(backend), ops.trace() as events:
        out = ops.psnr_mse(sr, hr, **kwargs)
    assert ("psnr_mse", backend) in events
    with ops.use_backend("reference"):
        ref = ops.psnr_mse(sr.cpu(), hr.cpu(), **kwargs)
    assert out.dtype == torch.float64 and out.shape == (sr.shape[0],)
    assert out.device == sr.device
    if sr.shape[0] == 0:
        return
    assert torch.isfinite(out).all()
    # Every backend forms the samples in double and sums in double (ops.psnr_mse's docstring:
    # ~1e-12 relative), so the MSE itself is held to the float64 floor. The bound (PSNR
    # within 1e-6 relative) is far looser: dropping one sample of a 37 x 1024 image moved the
    # PSNR by less than that in most trials.
    assert relative_error(out.cpu(), ref) <= FLOORS[torch.float64]
    assert relative_error(_psnr(out), _psnr(ref)) <= 1e-6


@pytest.mark.parametrize("backend", backend_params(*FAST))
@pytest.mark.parametrize("protocol", list(PROTOCOLS))
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_matches_reference(backend, protocol, layout, dtype, shape):
    device = backend_device(backend)
    sr, hr = related_pair(shape, dtype, layout, device)
    _check_against_reference(backend, sr, hr, protocol_kwargs(protocol, dtype))


# The Triton interpreter is slow: fewer cases, tiny images (bf16 needs a GPU).
TRITON_DTYPES = [torch.uint8, torch.float16, torch.float32, torch.float64]


@pytest.mark.parametrize("backend", backend_params("triton"))
@pytest.mark.parametrize("protocol", list(PROTOCOLS))
@pytest.mark.parametrize("dtype", TRITON_DTYPES, ids=str)
def test_triton_matches_reference(backend, protocol, dtype):
    device = backend_device(backend)
    sr, hr = related_pair((2, 3, 13, 10), dtype, "contiguous", device)
    _check_against_reference(backend, sr, hr, protocol_kwargs(protocol, dtype))


@pytest.mark.parametrize("backend", backend_params("triton"))
@pytest.mark.parametrize("layout", ["channels_last", "sliced", "permuted"])
def test_triton_layouts(backend, layout):
    device = backend_device(backend)
    sr, hr = related_pair((2, 3, 9, 21), torch.float32, layout, device)
    _check_against_reference(backend, sr, hr, protocol_kwargs("y_crop", torch.float32))


@pytest.mark.parametrize("backend", backend_params("triton"))
@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "sliced"])
def test_triton_uint8_integer_path_is_exact(backend, layout):
    """uint8 per channel (the integer path): rows wider than one column block (2048) and more
    rows than one program's (8), crop 0 and 1; the MSE equals the float64 reference exactly
    (integer squares, exact sums)."""
    device = backend_device(backend)
    sr, hr = related_pair((2, 3, 10, 2100), torch.uint8, layout, device)
    for crop in (0, 1):
        kwargs = dict(crop_border=crop, quantize=crop == 1)
        with ops.use_backend(backend), ops.trace() as events:
            out = ops.psnr_mse(sr, hr, **kwargs)
        assert ("psnr_mse", backend) in events
        with ops.use_backend("reference"):
            expected = ops.psnr_mse(sr.cpu(), hr.cpu(), **kwargs)
        assert torch.equal(out.cpu(), expected), crop


@pytest.mark.cuda
@pytest.mark.parametrize("backend", backend_params("triton", "cuda"))
@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_gpu_bfloat16_and_large_images(backend, protocol):
    device = backend_device(backend)
    for dtype in (torch.bfloat16, torch.uint8):
        sr, hr = related_pair((2, 3, 301, 517), dtype, "channels_last", device)
        _check_against_reference(backend, sr, hr, protocol_kwargs(protocol, dtype))


@pytest.mark.cuda
@pytest.mark.parametrize("backend", backend_params("cuda"))
@pytest.mark.parametrize("protocol", list(PROTOCOLS))
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(
    "shape, layout",
    [
        ((2, 3, 37, 1024), "contiguous"),
        ((2, 3, 21, 512), "channels_last"),
        ((1, 1, 9, 96), "contiguous"),
    ],
    ids=str,
)
def test_cuda_vectorised_rows(backend, protocol, dtype, shape, layout):
    """Rows 16-byte aligned in every image: the CUDA kernel takes its 16-byte-load path (scalar
    head up to alignment, which the crop shifts, vectors, scalar tail)."""
    device = backend_device(backend)
    sr, hr = related_pair(shape, dtype, layout, device)
    _check_against_reference(backend, sr, hr, protocol_kwargs(protocol, dtype))


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
def test_data_range_255_floats_equal_uint8(backend):
    device = backend_device(backend)
    sr, hr = related_pair((2, 3, 12, 14), torch.uint8, "contiguous", device)
    with runs_on(backend, "psnr_mse"):
        as_uint8 = ops.psnr_mse(sr, hr, crop_border=1, y_channel=True)
        as_float = ops.psnr_mse(
            sr.float(), hr.float(), data_range=255.0, crop_border=1, y_channel=True
        )
        as_unit = ops.psnr_mse(
            sr.double() / 255, hr.double() / 255, data_range=1.0, crop_border=1, y_channel=True
        )  # noqa: E501
    torch.testing.assert_close(as_float, as_uint8, rtol=1e-12, atol=0)
    torch.testing.assert_close(as_unit, as_uint8, rtol=1e-9, atol=0)


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
def test_quantize_rounds_half_to_even_and_clamps(backend):
    device = backend_device(backend)
    # 8-bit-scale values 0.5, 1.5, 2.5, -3 and 300 quantise to 0, 2, 2, 0 and 255.
    sr = torch.tensor([0.5, 1.5, 2.5, -3.0, 300.0], dtype=torch.float64).view(1, 1, 1, 5) / 255
    hr = torch.zeros_like(sr)
    with runs_on(backend, "psnr_mse"):
        out = ops.psnr_mse(sr.to(device), hr.to(device), data_range=1.0, quantize=True)
    assert out.item() == pytest.approx((0 + 4 + 4 + 0 + 255**2) / 5, rel=1e-15)


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
def test_round_y_matches_matlab_rounding(backend):
    device = backend_device(backend)
    # Y = 16 + (65481 R + 128553 G + 24966 B) / 255000; search pixels whose Y is exactly x.5
    # (MATLAB rounds them up) and pixels just below/above a tie.
    g = torch.arange(256, dtype=torch.int64)
    rr, gg = torch.meshgrid(g, g, indexing="ij")
    rr, gg = rr.reshape(-1), gg.reshape(-1)
    found = []
    for b in range(0, 256, 5):
        num = 65481 * rr + 128553 * gg + 24966 * b
        frac = num % 255000
        idx = torch.nonzero((frac == 127500) | (frac == 127499) | (frac == 127501)).flatten()
        found += [(int(rr[i]), int(gg[i]), b) for i in idx[:3]]
    assert len(found) > 10
    rgb = torch.tensor(found, dtype=torch.uint8).t().reshape(1, 3, 1, -1)
    num = torch.tensor([65481 * r + 128553 * g + 24966 * b for r, g, b in found], dtype=torch.int64)
    y_matlab = 16 + (num + 127500) // 255000  # exact integer half-up
    black = torch.zeros_like(rgb)
    expected = ((y_matlab - 16).double() ** 2).mean()
    with runs_on(backend, "psnr_mse"):
        out = ops.psnr_mse(rgb.to(device), black.to(device), y_channel=True, round_y=True)
    assert out.item() == expected.item()


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
def test_identical_images_give_zero(backend):
    device = backend_device(backend)
    x = make((2, 3, 15, 17), torch.float32, "contiguous", device)
    with runs_on(backend, "psnr_mse"):
        out = ops.psnr_mse(x, x.clone(), data_range=1.0, crop_border=2, y_channel=True)
    assert torch.equal(out.cpu(), torch.zeros(2, dtype=torch.float64))


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
@pytest.mark.parametrize("quantize", [False, True])
def test_nan_gives_nan_for_that_image_only(backend, quantize):
    device = backend_device(backend)
    sr, hr = related_pair((2, 3, 10, 12), torch.float32, "contiguous", device)
    sr[1, 2, 5, 6] = float("nan")
    with runs_on(backend, "psnr_mse"):
        out = ops.psnr_mse(
            sr, hr, data_range=1.0, quantize=quantize, y_channel=True, round_y=quantize
        )  # noqa: E501
    assert torch.isfinite(out[0]) and torch.isnan(out[1])


@pytest.mark.parametrize("name", ["psnr_mse", "psnr"])  # psnr: the same checks, dB out
@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
def test_bad_input_is_a_clear_error(backend, name):
    device = backend_device(backend)
    sr, hr = related_pair((1, 3, 8, 8), torch.float32, "contiguous", device)
    op = getattr(ops, name)
    with ops.use_backend(backend):
        with pytest.raises(ValueError, match="same shape"):
            op(sr, hr[:, :, :7], data_range=1.0)
        with pytest.raises(ValueError, match="crop_border=4 leaves less than 1x1"):
            op(sr, hr, data_range=1.0, crop_border=4)
        with pytest.raises(ValueError, match="crop_border must be >= 0"):
            op(sr, hr, data_range=1.0, crop_border=-1)
        with pytest.raises(TypeError, match="sr has dtype int32"):
            op(sr.int(), hr.int(), data_range=1.0)
        with pytest.raises(TypeError, match="hr has dtype float64 but sr has float32"):
            op(sr, hr.double(), data_range=1.0)
        with pytest.raises(ValueError, match="data_range is required"):
            op(sr, hr)
        with pytest.raises(ValueError, match="data_range must be a positive finite"):
            op(sr, hr, data_range=0.0)
        with pytest.raises(ValueError, match="data_range must be 255"):
            op(sr.byte(), hr.byte(), data_range=1.0)
        # Grey or RGB only: an alpha channel would be scored as a colour with no error.
        rgba = torch.cat([sr, torch.ones_like(sr[:, :1])], dim=1)
        with pytest.raises(ValueError, match=r"RGB \(3 channels\) images, got 4 .*alpha"):
            op(rgba, torch.cat([hr, rgba[:, 3:]], dim=1), data_range=1.0)
        with pytest.raises(ValueError, match=r"grey \(1 channel\) or RGB"):
            op(sr[:, :2], hr[:, :2], data_range=1.0, y_channel=True)
        with pytest.raises(ValueError, match="round_y=True needs y_channel"):
            op(sr, hr, data_range=1.0, round_y=True, quantize=True)
        with pytest.raises(ValueError, match="needs 8-bit values"):
            op(sr, hr, data_range=1.0, y_channel=True, round_y=True)
        with pytest.raises(ValueError, match="4-D tensor"):
            op(sr[0], hr[0], data_range=1.0)
        with pytest.raises(TypeError, match="y_channel must be a bool"):
            op(sr, hr, data_range=1.0, y_channel=1)
        with pytest.raises(ValueError, match="inference-only"):
            op(sr.requires_grad_(), hr, data_range=1.0)


@pytest.mark.parametrize("name", ["psnr_mse", "psnr"])
@pytest.mark.parametrize("backend", backend_params("cpu", "cuda"))
def test_compiled_op_checks_its_own_arguments(backend, name):
    """Direct torch.ops calls bypass the Python checks; the C++ host code must still refuse."""
    device = backend_device(backend)
    sr, hr = related_pair((1, 3, 8, 8), torch.float32, "contiguous", device)
    op = getattr(torch.ops.sr_kernels, name)
    with pytest.raises(ValueError, match="argument 'hr'"):
        op(sr, hr[:, :, :7], 1.0, 0, False, False, False)
    with pytest.raises(ValueError, match="argument 'crop_border'"):
        op(sr, hr, 1.0, 4, False, False, False)
    with pytest.raises(ValueError, match="argument 'data_range'"):
        op(sr.byte(), hr.byte(), 1.0, 0, False, False, False)
    with pytest.raises(ValueError, match="argument 'round_y'"):
        op(sr, hr, 1.0, 0, True, False, True)
    with pytest.raises(TypeError, match="argument 'sr'"):
        op(sr.int(), hr.int(), 1.0, 0, False, False, False)


def _op_for(backend: str, name: str):
    if backend == "triton":
        import sr_kernels.ops.triton.psnr_mse  # noqa: F401  registers the custom ops

        return getattr(torch.ops.sr_kernels, f"{name}_triton")
    return getattr(torch.ops.sr_kernels, name)


@pytest.mark.parametrize("name", ["psnr_mse", "psnr"])
@pytest.mark.parametrize("backend", backend_params("cpu", "cuda", "triton"))
@pytest.mark.parametrize("channels_last", [False, True])
def test_opcheck(backend, channels_last, name):
    device = backend_device(backend)
    layout = "channels_last" if channels_last else "contiguous"
    sr, hr = related_pair((2, 3, 6, 5), torch.float32, layout, device)
    torch.library.opcheck(_op_for(backend, name), (sr, hr, 1.0, 1, True, True, False))


@pytest.mark.parametrize("backend", backend_params("cpu", "reference", "cuda"))
def test_torch_compile_fullgraph(backend):
    device = backend_device(backend)
    torch._dynamo.reset()

    def fn(sr, hr):
        return 10 * torch.log10(255.0**2 / ops.psnr_mse(sr, hr, data_range=1.0, crop_border=2))

    sr, hr = related_pair((2, 3, 11, 9), torch.float32, "contiguous", device)
    with ops.use_backend(backend), ops.trace() as events:
        out = torch.compile(fn, fullgraph=True, backend="inductor")(sr, hr)
        expected = fn(sr, hr)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=0)
    assert ("psnr_mse", backend) in events


def test_automatic_choice_on_cpu_never_uses_the_interpreter():
    sr, hr = related_pair((1, 3, 8, 8), torch.float32, "contiguous")
    with ops.trace() as events:
        ops.psnr_mse(sr, hr, data_range=1.0)
    assert events and events[0][1] in ("cpu", "reference")
