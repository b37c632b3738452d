"""What every Triton launcher relies on (ops/triton/_launch.py): shape-derived NHWC strides, and
launches on the tensors' own GPU."""

from __future__ import annotations

import pytest
import torch
from _helpers import random_image

from sr_kernels import ops
from sr_kernels.ops.triton import _launch


@pytest.mark.parametrize(
    "shape",
    [(2, 64, 1, 1), (1, 64, 5, 1), (3, 16, 1, 7), (64, 64, 1, 1), (1, 3, 9, 7), (0, 4, 3, 3)],
    ids=str,
)
def test_nhwc_strides_address_the_same_elements(shape):
    """Viewed with the computed strides, a channels_last tensor is the same tensor, whatever
    strides PyTorch kept on its size-1 dimensions; and no stride of a dimension with C > 1
    channels comes out as 1 (Triton would specialise it)."""
    t = random_image(shape, torch.float32).contiguous(memory_format=torch.channels_last)
    sn, sh, sw = _launch.nhwc_strides(t)
    view = t.as_strided(t.shape, (sn, 1, sh, sw), t.storage_offset())
    assert torch.equal(view, t)
    if shape[1] > 1:
        assert 1 not in (sn, sh, sw)


def test_nchw_pointwise_weight_keeps_unit_strides():
    """Why `nhwc_strides` exists: nn.Conv2d's 1x1 weight already counts as channels_last, so
    .contiguous(channels_last) keeps its W and H strides of 1."""
    w = torch.randn(64, 64, 1, 1)
    assert w.contiguous(memory_format=torch.channels_last).stride()[2:] == (1, 1)


def _two_gpus() -> str | None:
    if not torch.cuda.is_available():
        return "needs two CUDA GPUs; none is visible on this machine"
    if torch.cuda.device_count() < 2:
        return f"needs two CUDA GPUs; {torch.cuda.device_count()} visible"
    return None


@pytest.mark.cuda
@pytest.mark.skipif(_two_gpus() is not None, reason=str(_two_gpus()))
def test_triton_ops_run_on_their_tensors_gpu():
    """Tensors on cuda:1 while cuda:0 is current: Triton launches on the current device, so
    every launcher makes the tensors' device current (else: illegal addresses or wrong data)."""
    torch.cuda.set_device(0)
    device = torch.device("cuda", 1)
    x = random_image((1, 16, 9, 11), torch.float16, device)
    w = torch.randn(16, 16, 3, 3, dtype=torch.float16, device=device) / 12
    b = torch.rand(16, dtype=torch.float16, device=device) - 0.5
    image = random_image((1, 3, 16, 14), torch.uint8, device)
    calls = {
        "conv2d_act": lambda: ops.conv2d_act(x, w, b),
        "residual_block": lambda: ops.residual_block(x, w, b, w, b),
        "conv_pixel_shuffle": lambda: ops.conv_pixel_shuffle(x, w, b, 2),
        "pixel_shuffle": lambda: ops.pixel_shuffle(x, 2),
        "imresize": lambda: ops.imresize(image, 0.5),
        "psnr_mse": lambda: ops.psnr_mse(image, image.flip(-1)),
        "psnr": lambda: ops.psnr(image, image.flip(-1)),
        "ssim_mean": lambda: ops.ssim_mean(image, image.flip(-1)),
    }
    for name, call in calls.items():
        with ops.use_backend("triton"), ops.trace() as events:
            out = call()
        with ops.use_backend("reference"):
            expected = call()
        assert (name, "triton") in events, name
        assert out.device == device, name
        if out.dtype == torch.uint8 or name == "pixel_shuffle":  # copies and MATLAB rounding
            assert torch.equal(out.cpu(), expected.cpu()), name
        elif name in ("psnr_mse", "psnr", "ssim_mean"):  # float64 sums (SSIM: fp32 moments)
            torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)
        else:  # fp16 convolutions (fp32 accumulation): the fp16 floor of STYLE.md
            torch.testing.assert_close(out.float(), expected.float(), rtol=2e-3, atol=2e-3)
        assert torch.cuda.current_device() == 0
