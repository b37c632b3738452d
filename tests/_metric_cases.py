"""Shared cases of the image-metric tests (tests/ops/test_psnr_mse.py, test_ssim_mean.py,
tests/metrics/): input pairs in every layout and the protocols exercised."""

from __future__ import annotations

import torch
from _helpers import random_image

LAYOUTS = ["contiguous", "channels_last", "sliced", "permuted"]
DTYPES = [torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64]

# Protocol keyword sets (data_range is added per dtype): plain RGB, cropped + quantised RGB,
# cropped luma, MATLAB-rounded luma (needs quantize for floats).
PROTOCOLS = {
    "rgb": dict(crop_border=0, y_channel=False, quantize=False, round_y=False),
    "rgb_crop_quant": dict(crop_border=2, y_channel=False, quantize=True, round_y=False),
    "y_crop": dict(crop_border=3, y_channel=True, quantize=False, round_y=False),
    "y_round": dict(crop_border=1, y_channel=True, quantize=True, round_y=True),
}


def make(shape, dtype, layout, device="cpu", data_range=1.0) -> torch.Tensor:
    """A random image of `shape` (floats in [0, data_range), uint8 in 0..255) in `layout`."""
    n, c, h, w = shape

    def rand(s):
        x = random_image(s, dtype if dtype == torch.uint8 else torch.float64, device)
        return x if dtype == torch.uint8 else (x * data_range).to(dtype)

    if layout == "contiguous":
        return rand(shape)
    if layout == "channels_last":
        return rand(shape).contiguous(memory_format=torch.channels_last)
    if layout == "sliced":  # gaps between rows, channels and images
        return rand((n, c + 1, h + 2, w + 3))[:, 1:, 1 : h + 1, 2 : w + 2]
    if layout == "permuted":  # H and W swapped in memory
        return rand((n, c, w, h)).transpose(2, 3)
    raise ValueError(layout)


def related_pair(shape, dtype, layout, device="cpu", data_range=1.0, noise=0.1):
    """(sr, hr): hr random, sr = hr + noise (clamped), so SSIM is far from 0 and PSNR finite."""
    hr = make(shape, dtype, layout, device, data_range)
    step = make(shape, torch.float64, "contiguous", device, 1.0) - 0.5
    if dtype == torch.uint8:
        sr64 = hr.double() + step * 255.0 * noise * 2
        sr = sr64.round().clamp(0, 255).to(torch.uint8)
    else:
        sr64 = hr.double() + step * data_range * noise * 2
        sr = sr64.clamp(0, data_range).to(dtype)
    out = make(shape, dtype, layout, device, data_range)  # same layout as hr
    out.copy_(sr)
    return out, hr


def protocol_kwargs(name: str, dtype: torch.dtype, data_range: float = 1.0) -> dict:
    kwargs = dict(PROTOCOLS[name])
    kwargs["data_range"] = None if dtype == torch.uint8 else data_range
    return kwargs
