"""psnr (psnr_mse in dB, the conversion inside the op): every backend against the float64
reference, the edge values (identical images, mse = 255**2, NaN), bad input, opcheck and
torch.compile. The MSE itself is tested in test_psnr_mse.py; these cases check the dB step of
each backend and that the op runs its own backend's kernel."""

from __future__ import annotations

import pytest
import torch
from _helpers import ALL_BACKENDS, backend_device, backend_params, relative_error
from _metric_cases import DTYPES, LAYOUTS, PROTOCOLS, protocol_kwargs, related_pair

from sr_kernels import ops

FAST = ("cpu", "cuda")


def _psnr(backend, sr, hr, kwargs):
    with ops.use_backend(backend), ops.trace() as events:
        out = ops.psnr(sr, hr, **kwargs)
    assert ("psnr", backend) in events
    return out


def _check_against_reference(backend, sr, hr, kwargs):
    out = _psnr(backend, sr, hr, kwargs)
    assert out.dtype == torch.float64 and out.shape == (sr.shape[0],)
    assert out.device == sr.device
    with ops.use_backend("reference"):
        expected = ops.psnr(sr.cpu(), hr.cpu(), **kwargs)
        # The dB step is the reference's own formula on its MSE.
        mse = ops.psnr_mse(sr.cpu(), hr.cpu(), **kwargs)
    torch.testing.assert_close(expected, 10.0 * torch.log10(65025.0 / mse), rtol=0, atol=0)
    if sr.shape[0] == 0:
        return
    assert torch.isfinite(out).all()
    # The bound: PSNR within 1e-6 relative of the float64 reference.
    assert relative_error(out.cpu(), expected) <= 1e-6
    # And the same backend's MSE turned into dB afterwards: only the last rounding may differ.
    with ops.use_backend(backend):
        own_mse = ops.psnr_mse(sr, hr, **kwargs).cpu()
    torch.testing.assert_close(out.cpu(), 10.0 * torch.log10(65025.0 / own_mse), rtol=1e-14, atol=0)


@pytest.mark.parametrize("backend", backend_params(*FAST))
@pytest.mark.parametrize("protocol", list(PROTOCOLS))
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_matches_reference(backend, protocol, layout, dtype):
    device = backend_device(backend)
    sr, hr = related_pair((3, 3, 21, 18), dtype, layout, device)
    _check_against_reference(backend, sr, hr, protocol_kwargs(protocol, dtype))


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32], ids=str)
def test_every_backend_on_odd_sizes_and_batch_zero(backend, dtype):
    device = backend_device(backend)
    for shape in ((2, 3, 13, 10), (1, 1, 9, 7), (0, 3, 9, 9)):
        sr, hr = related_pair(shape, dtype, "contiguous", device)
        _check_against_reference(backend, sr, hr, protocol_kwargs("y_crop", dtype))


@pytest.mark.cuda
@pytest.mark.parametrize("backend", backend_params("cuda"))
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32], ids=str)
@pytest.mark.parametrize(
    "shape, layout", [((2, 3, 37, 1024), "contiguous"), ((2, 3, 21, 512), "channels_last")], ids=str
)
def test_cuda_vectorised_rows(backend, dtype, shape, layout):
    """Rows 16-byte aligned in every image: the 16-byte-load path with the dB finaliser."""
    device = backend_device(backend)
    sr, hr = related_pair(shape, dtype, layout, device)
    for protocol in PROTOCOLS:
        _check_against_reference(backend, sr, hr, protocol_kwargs(protocol, dtype))


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
def test_edge_values(backend):
    """Identical images give +inf; mse = 255**2 gives exactly 0 dB (the division comes first);
    a NaN pixel gives NaN for its image only."""
    device = backend_device(backend)
    white = torch.full((1, 3, 6, 7), 255, dtype=torch.uint8, device=device)
    black = torch.zeros_like(white)
    x, _ = related_pair((2, 3, 10, 12), torch.float32, "contiguous", device)
    with ops.use_backend(backend):
        same = ops.psnr(x, x.clone(), data_range=1.0, crop_border=1, y_channel=True)
        zero_db = ops.psnr(white, black)
        nan_sr = x.clone()
        nan_sr[1, 2, 5, 6] = float("nan")
        with_nan = ops.psnr(nan_sr, x, data_range=1.0)
    assert torch.equal(same.cpu(), torch.full((2,), float("inf"), dtype=torch.float64))
    assert torch.equal(zero_db.cpu(), torch.zeros(1, dtype=torch.float64))
    assert torch.isinf(with_nan[0]) and torch.isnan(with_nan[1])


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
def test_bad_input_is_a_clear_error(backend):
    device = backend_device(backend)
    sr, hr = related_pair((1, 3, 8, 8), torch.float32, "contiguous", device)
    with ops.use_backend(backend):
        with pytest.raises(ValueError, match="same shape"):
            ops.psnr(sr, hr[:, :, :7], data_range=1.0)
        with pytest.raises(ValueError, match="crop_border=4 leaves less than 1x1"):
            ops.psnr(sr, hr, data_range=1.0, crop_border=4)
        with pytest.raises(TypeError, match="sr has dtype int32"):
            ops.psnr(sr.int(), hr.int(), data_range=1.0)
        with pytest.raises(ValueError, match="data_range is required"):
            ops.psnr(sr, hr)
        with pytest.raises(ValueError, match="inference-only"):
            ops.psnr(sr.requires_grad_(), hr, data_range=1.0)


@pytest.mark.parametrize("backend", backend_params("cpu", "cuda"))
def test_compiled_op_checks_its_own_arguments(backend):
    """Direct torch.ops calls bypass the Python checks; the C++ host code must still refuse."""
    device = backend_device(backend)
    sr, hr = related_pair((1, 3, 8, 8), torch.float32, "contiguous", device)
    op = torch.ops.sr_kernels.psnr
    with pytest.raises(ValueError, match="argument 'hr'"):
        op(sr, hr[:, :, :7], 1.0, 0, False, False, False)
    with pytest.raises(ValueError, match="argument 'crop_border'"):
        op(sr, hr, 1.0, 4, False, False, False)
    with pytest.raises(TypeError, match="argument 'sr'"):
        op(sr.int(), hr.int(), 1.0, 0, False, False, False)


def _op_for(backend: str):
    if backend == "triton":
        import sr_kernels.ops.triton.psnr_mse  # noqa: F401  registers the custom op

        return torch.ops.sr_kernels.psnr_triton
    return torch.ops.sr_kernels.psnr


@pytest.mark.parametrize("backend", backend_params("cpu", "cuda", "triton"))
def test_opcheck(backend):
    device = backend_device(backend)
    sr, hr = related_pair((2, 3, 6, 5), torch.float32, "channels_last", device)
    torch.library.opcheck(_op_for(backend), (sr, hr, 1.0, 1, True, True, False))


@pytest.mark.parametrize("backend", backend_params("cpu", "reference", "cuda"))
def test_torch_compile_fullgraph(backend):
    device = backend_device(backend)
    torch._dynamo.reset()

    def fn(sr, hr):
        return ops.psnr(sr, hr, data_range=1.0, crop_border=2).mean()

    sr, hr = related_pair((2, 3, 11, 9), torch.float32, "contiguous", device)
    with ops.use_backend(backend), ops.trace() as events:
        out = torch.compile(fn, fullgraph=True, backend="inductor")(sr, hr)
        expected = fn(sr, hr)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=0)
    assert ("psnr", backend) in events
