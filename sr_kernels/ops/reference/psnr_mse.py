"""Reference psnr_mse in float64: the executable spec of the SR metric protocol.

`protocol_planes` is the protocol itself (scale, crop, quantise, luma); `psnr_mse` and
`ssim_mean` (same backend) are built on it.
"""

from __future__ import annotations

from typing import Any

import torch

from .. import _trace
from .._decibels import decibels

_DTYPES = (torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64)

# BT.601 studio swing (MATLAB rgb2ycbcr): Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 on
# 8-bit-scale RGB, written with integer numerators so that 8-bit inputs are exact in float64.
LUMA_NUMERATORS = (65481.0, 128553.0, 24966.0)
LUMA_DENOMINATOR = 255000.0


def supports(meta: dict[str, Any]) -> str | None:
    return None if meta["dtype"] in _DTYPES else f"dtype {meta['dtype']} is not supported"


def protocol_planes(
    x: torch.Tensor,
    data_range: float,
    crop_border: int,
    y_channel: bool,
    quantize: bool,
    round_y: bool,
) -> torch.Tensor:
    """(N, C, H, W) image -> (N, P, H - 2 crop, W - 2 crop) float64 protocol values (8-bit scale).

    P is 1 with `y_channel` (luma; a 1-channel image is grey: R = G = B), else C.
    """
    v = x.to(torch.float64) * (255.0 / data_range)
    height, width = v.shape[-2], v.shape[-1]
    v = v[..., crop_border : height - crop_border, crop_border : width - crop_border]
    if quantize:
        v = v.clamp(0.0, 255.0).round()  # half to even; clamp keeps NaN
    if not y_channel:
        return v
    channels = (0, 1, 2) if v.shape[1] == 3 else (0, 0, 0)
    r, g, b = (v[:, c] for c in channels)
    kr, kg, kb = LUMA_NUMERATORS
    numerator = kr * r + kg * g + kb * b
    if round_y:  # MATLAB rounds half away from zero; Y > 0
        y = 16.0 + torch.floor((numerator + LUMA_DENOMINATOR / 2) / LUMA_DENOMINATOR)
    else:
        y = 16.0 + numerator / LUMA_DENOMINATOR
    return y.unsqueeze(1)


def psnr_mse(
    sr: torch.Tensor,
    hr: torch.Tensor,
    data_range: float,
    crop_border: int,
    y_channel: bool,
    quantize: bool,
    round_y: bool,
) -> torch.Tensor:
    """mse[n] = mean((P(sr)[n] - P(hr)[n])**2) in float64, P = `protocol_planes`."""
    _trace.record("psnr_mse", "reference")
    return _mse(sr, hr, data_range, crop_border, y_channel, quantize, round_y)


def _mse(sr, hr, data_range, crop_border, y_channel, quantize, round_y) -> torch.Tensor:
    a = protocol_planes(sr, data_range, crop_border, y_channel, quantize, round_y)
    b = protocol_planes(hr, data_range, crop_border, y_channel, quantize, round_y)
    return ((a - b) ** 2).mean(dim=(1, 2, 3))


def psnr(
    sr: torch.Tensor,
    hr: torch.Tensor,
    data_range: float,
    crop_border: int,
    y_channel: bool,
    quantize: bool,
    round_y: bool,
) -> torch.Tensor:
    """psnr[n] = decibels(psnr_mse[n]) in float64."""
    _trace.record("psnr", "reference")
    return decibels(_mse(sr, hr, data_range, crop_border, y_channel, quantize, round_y))
