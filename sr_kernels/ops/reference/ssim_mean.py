"""Reference ssim_mean in float64: Wang et al. SSIM with the SR convention (executable spec).

Gaussian window 11x11, sigma 1.5, normalised; K1 = 0.01, K2 = 0.03, L = 255 (values are on the
8-bit scale); 'valid' filtering; no downsampling; mean over the map and the planes.
"""

from __future__ import annotations

import math
from typing import cast

import torch

from .. import _trace
from .psnr_mse import protocol_planes
from .psnr_mse import supports as supports  # same dtypes: both metrics share the protocol

WINDOW = 11
SIGMA = 1.5
C1 = (0.01 * 255.0) ** 2
C2 = (0.03 * 255.0) ** 2


def gaussian_taps() -> list[float]:
    """The normalised 1-D window (float64 values); the 2-D window is its outer product."""
    radius = WINDOW // 2
    raw = [math.exp(-((k - radius) ** 2) / (2.0 * SIGMA**2)) for k in range(WINDOW)]
    total = math.fsum(raw)
    return [v / total for v in raw]


def ssim_map(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """SSIM map of two (N, P, H, W) float64 planes on the 8-bit scale: (N, P, H - 10, W - 10)."""
    h, w = a.shape[-2], a.shape[-1]
    taps = gaussian_taps()

    def blur(t: torch.Tensor) -> torch.Tensor:
        # 'valid' separable filtering as explicit weighted sums of shifted slices (rows, then
        # columns): the window definition, literally.
        # (sum() of tensors is a tensor; cast for mypy, which types sum() as int | Tensor.)
        rows = cast(
            torch.Tensor, sum(taps[k] * t[..., k : k + h - (WINDOW - 1), :] for k in range(WINDOW))
        )
        return cast(
            torch.Tensor, sum(taps[k] * rows[..., k : k + w - (WINDOW - 1)] for k in range(WINDOW))
        )

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    return ((2 * mu_a * mu_b + C1) * (2 * cov + C2)) / (
        (mu_a**2 + mu_b**2 + C1) * (var_a + var_b + C2)
    )


def ssim_mean(
    sr: torch.Tensor,
    hr: torch.Tensor,
    data_range: float,
    crop_border: int,
    y_channel: bool,
    quantize: bool,
    round_y: bool,
) -> torch.Tensor:
    """ssim[n] = mean of the SSIM map of the protocol planes of image n, float64."""
    _trace.record("ssim_mean", "reference")
    a = protocol_planes(sr, data_range, crop_border, y_channel, quantize, round_y)
    b = protocol_planes(hr, data_range, crop_border, y_channel, quantize, round_y)
    if a.shape[0] == 0:
        return torch.empty(0, dtype=torch.float64, device=sr.device)
    return ssim_map(a, b).mean(dim=(1, 2, 3))
