"""ssim_mean: every backend against the float64 reference (dtypes, layouts, odd sizes, crops,
protocols, several tiles), flat images, bad input, NaN, batch 0, opcheck and torch.compile."""

from __future__ import annotations

import pytest
import torch
from _helpers import ALL_BACKENDS, backend_device, backend_params, runs_on
from _metric_cases import DTYPES, LAYOUTS, PROTOCOLS, make, protocol_kwargs, related_pair

from sr_kernels import ops

# (N, C, H, W): odd H != W, grey, batch 0.
SHAPES = [(2, 3, 19, 23), (1, 1, 18, 17), (0, 3, 17, 17)]
# Several row chunks and column strips (CPU 64-row tasks, CUDA 128 x 64 tiles).
LARGE = (1, 3, 150, 141)
# ops.ssim_mean's documented accuracy: fp32 moments on shifted samples, within ~1e-6 of the
# float64 reference (the issue asks 1e-5; the cpu kernel measured 3.1e-7 at most here).
TOLERANCE = 1e-6


def _check_against_reference(backend, sr, hr, kwargs):
    with ops.use_backend(backend), ops.trace() as events:
        out = ops.ssim_mean(sr, hr, **kwargs)
    assert ("ssim_mean", backend) in events
    with ops.use_backend("reference"):
        ref = ops.ssim_mean(sr.cpu(), hr.cpu(), **kwargs)
    assert out.dtype == torch.float64 and out.shape == (sr.shape[0],)
    assert out.device == sr.device
    if sr.shape[0] == 0:
        return
    assert torch.isfinite(out).all()
    assert (out.cpu() - ref).abs().max().item() <= TOLERANCE
    return ref


@pytest.mark.parametrize("backend", backend_params("cpu", "cuda"))
@pytest.mark.parametrize("protocol", list(PROTOCOLS))
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_matches_reference(backend, protocol, layout, dtype, shape):
    device = backend_device(backend)
    sr, hr = related_pair(shape, dtype, layout, device)
    ref = _check_against_reference(backend, sr, hr, protocol_kwargs(protocol, dtype))
    if ref is not None:
        assert (ref > 0.1).all()  # related images: the comparison is not around 0


@pytest.mark.parametrize("backend", backend_params("cpu", "cuda"))
@pytest.mark.parametrize("protocol", list(PROTOCOLS))
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32], ids=str)
def test_several_tiles_match_reference(backend, protocol, layout, dtype):
    device = backend_device(backend)
    sr, hr = related_pair(LARGE, dtype, layout, device)
    _check_against_reference(backend, sr, hr, protocol_kwargs(protocol, dtype))


# Triton under the interpreter: tiny images, one program per (image, plane) where possible.
@pytest.mark.parametrize("backend", backend_params("triton"))
@pytest.mark.parametrize(
    "dtype, layout, protocol",
    [
        (torch.uint8, "contiguous", "y_round"),
        (torch.float32, "channels_last", "y_crop"),
        (torch.float16, "permuted", "y_round"),
        (torch.float64, "sliced", "y_crop"),
        (torch.float32, "contiguous", "rgb_crop_quant"),
    ],
    ids=str,
)
def test_triton_matches_reference(backend, dtype, layout, protocol):
    device = backend_device(backend)
    shape = (2, 3, 17, 18) if protocol.startswith("y") else (1, 3, 15, 16)
    sr, hr = related_pair(shape, dtype, layout, device)
    _check_against_reference(backend, sr, hr, protocol_kwargs(protocol, dtype))


@pytest.mark.parametrize("backend", backend_params("triton"))
def test_triton_several_strips_and_chunks(backend):
    device = backend_device(backend)
    # 139 output columns: two 128-column strips; 34 output rows: two 32-row chunks.
    sr, hr = related_pair((1, 1, 44, 149), torch.float32, "contiguous", device)
    _check_against_reference(backend, sr, hr, protocol_kwargs("rgb", torch.float32))


@pytest.mark.cuda
@pytest.mark.parametrize("backend", backend_params("triton", "cuda"))
@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_gpu_bfloat16_and_large_images(backend, protocol):
    device = backend_device(backend)
    for dtype in (torch.bfloat16, torch.uint8):
        sr, hr = related_pair((2, 3, 301, 517), dtype, "channels_last", device)
        _check_against_reference(backend, sr, hr, protocol_kwargs(protocol, dtype))


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
def test_identical_images_give_one(backend):
    device = backend_device(backend)
    x = make((2, 3, 16, 15), torch.uint8, "contiguous", device)
    with runs_on(backend, "ssim_mean"):
        out = ops.ssim_mean(x, x.clone(), crop_border=1)
    # The fast kernels evaluate the SSIM formula in fp32 (FMA contraction differs between the
    # numerator and the denominator): 1 to fp32 rounding, within the 1e-5 bound.
    torch.testing.assert_close(out.cpu(), torch.ones(2, dtype=torch.float64), rtol=0, atol=1e-6)


@pytest.mark.parametrize("backend", backend_params("cpu", "cuda", "reference"))
def test_flat_bright_regions_stay_accurate(backend):
    """Near-constant bright images: E[x^2] - mu^2 cancels in fp32 without the shift."""
    device = backend_device(backend)
    base = torch.full((1, 3, 40, 37), 250.0, dtype=torch.float64)
    noise = make((1, 3, 40, 37), torch.float64, "contiguous", data_range=1.0) * 0.5
    hr = (base + noise).float().to(device)
    sr = (base + noise.flip(-1)).float().to(device)
    _check_against_reference(backend, sr, hr, dict(data_range=255.0))


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
def test_nan_gives_nan_for_that_image_only(backend):
    device = backend_device(backend)
    sr, hr = related_pair((2, 1, 12, 13), torch.float32, "contiguous", device)
    hr[0, 0, 3, 4] = float("nan")
    with runs_on(backend, "ssim_mean"):
        out = ops.ssim_mean(sr, hr, data_range=1.0, quantize=True)
    assert torch.isnan(out[0]) and torch.isfinite(out[1])


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
def test_bad_input_is_a_clear_error(backend):
    device = backend_device(backend)
    sr, hr = related_pair((1, 3, 16, 16), torch.float32, "contiguous", device)
    with ops.use_backend(backend):
        with pytest.raises(ValueError, match="11x11 'valid' window"):
            ops.ssim_mean(sr, hr, data_range=1.0, crop_border=3)
        with pytest.raises(ValueError, match="leaves less than 11x11"):
            ops.ssim_mean(sr[..., :10], hr[..., :10], data_range=1.0)
        with pytest.raises(ValueError, match="same shape"):
            ops.ssim_mean(sr, hr[:1, :1], data_range=1.0)
        with pytest.raises(TypeError, match="int16"):
            ops.ssim_mean(sr.short(), hr.short(), data_range=1.0)
        alpha = torch.ones_like(sr[:, :1])  # RGBA: the opaque alpha plane's SSIM would be 1
        with pytest.raises(ValueError, match=r"got 4 channels: drop the alpha channel"):
            ops.ssim_mean(torch.cat([sr, alpha], 1), torch.cat([hr, alpha], 1), data_range=1.0)


@pytest.mark.parametrize("backend", backend_params("cpu", "cuda"))
def test_compiled_op_checks_its_own_arguments(backend):
    device = backend_device(backend)
    sr, hr = related_pair((1, 3, 16, 16), torch.float32, "contiguous", device)
    with pytest.raises(ValueError, match="argument 'crop_border'"):
        torch.ops.sr_kernels.ssim_mean(sr, hr, 1.0, 3, False, False, False)
    with pytest.raises(ValueError, match="argument 'y_channel'"):
        torch.ops.sr_kernels.ssim_mean(sr[:, :2], hr[:, :2], 1.0, 0, True, False, False)


def _op_for(backend: str):
    if backend == "triton":
        import sr_kernels.ops.triton.ssim_mean  # noqa: F401  registers the custom op

        return torch.ops.sr_kernels.ssim_mean_triton
    return torch.ops.sr_kernels.ssim_mean


@pytest.mark.parametrize("backend", backend_params("cpu", "cuda", "triton"))
@pytest.mark.parametrize("channels_last", [False, True])
def test_opcheck(backend, channels_last):
    device = backend_device(backend)
    layout = "channels_last" if channels_last else "contiguous"
    sr, hr = related_pair((1, 3, 11, 12), torch.float32, layout, device)
    torch.library.opcheck(_op_for(backend), (sr, hr, 1.0, 0, True, True, True))


@pytest.mark.parametrize("backend", backend_params("cpu", "reference", "cuda"))
def test_torch_compile_fullgraph(backend):
    device = backend_device(backend)
    torch._dynamo.reset()

    def fn(sr, hr):
        return 1.0 - ops.ssim_mean(sr, hr, data_range=1.0, y_channel=True)

    sr, hr = related_pair((2, 3, 14, 15), torch.float32, "contiguous", device)
    with ops.use_backend(backend), ops.trace() as events:
        out = torch.compile(fn, fullgraph=True, backend="inductor")(sr, hr)
        expected = fn(sr, hr)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=0)
    assert ("ssim_mean", backend) in events


_RING_PROBE = """
import sys
import triton
from triton.backends.compiler import GPUTarget
from sr_kernels.ops.triton import ssim_mean as m
for cfg in m.aot_configs():
    if cfg["name"].startswith("ssim_mean[fp32"):
        src = triton.compiler.ASTSource(
            fn=cfg["kernel"], signature=cfg["signature"], constexprs=cfg["constexprs"]
        )
        try:
            k = triton.compile(src, target=GPUTarget("cuda", 90, 32), options={"num_warps": 4})
        except Exception as error:  # no sm_90 toolchain here: the test skips on status 3 only
            print(f"{type(error).__name__}: {error}", file=sys.stderr)
            sys.exit(3)
        loops = [line for line in k.asm["ttgir"].splitlines() if "scf.for" in line]
        print(max(line.split("->")[1].count("tensor<") for line in loops))
        break
"""


def test_triton_ring_is_loop_carried_in_the_gpu_build():
    """The interpreter runs plain Python; only the compiled kernel shows whether Triton carries
    all 50 ring values (+ the accumulator) through the row loop (see the kernel's comment)."""
    import os
    import subprocess
    import sys

    pytest.importorskip("triton")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    result = subprocess.run(
        [sys.executable, "-c", _RING_PROBE], env=env, capture_output=True, text=True, timeout=600
    )
    if result.returncode == 3:
        pytest.skip(f"Triton cannot compile for sm_90 here: {result.stderr[-300:]}")
    assert result.returncode == 0, result.stderr[-2000:]  # the probe itself broke
    assert int(result.stdout.strip().splitlines()[-1]) == 51
