"""PSNR in dB from per-image MSEs on the 8-bit scale, for the backends that convert in torch
(reference, Triton); the compiled op does the same in its last kernel step (metric::psnr_db)."""

from __future__ import annotations

import torch


def decibels(mse: torch.Tensor) -> torch.Tensor:
    """``10 log10(255**2 / mse)`` with the division first (exactly 0 dB for mse = 255**2);
    mse = 0 (identical images) gives +inf, NaN stays NaN."""
    return 10.0 * torch.log10((255.0 * 255.0) / mse)
