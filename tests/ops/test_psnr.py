"""psnr (psnr_mse in dB, the conversion inside the op): every backend against the float64
reference, the edge values (identical images, mse = 255**2, NaN) and torch.compile. The MSE
itself, and psnr's bad input and opcheck, are tested in test_psnr_mse.py; these cases check the
dB step of each backend and that the op runs its own backend's kernel."""

from __future__ import annotations

import pytest
import torch
from _helpers import ALL_BACKENDS, FLOORS, backend_device, backend_params, relative_error
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
    # The MSE is within the float64 floor of the reference (test_psnr_mse.py), so the dB values
    # are too; the bound (1e-6 relative) would hide a dropped sample.
    assert relative_error(out.cpu(), expected) <= FLOORS[torch.float64]
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
