"""PSNR and SSIM with the SR evaluation protocol explicit: one implementation, per-image values.

Both functions run on the fused ops `sr_kernels.ops.psnr` / `ssim_mean` (CUDA, CPU OpenMP,
Triton or the float64 reference, chosen by the backend registry) and differ from the usual
library defaults on purpose; see ``sr_kernels/metrics/README.md`` for the conventions table.
"""

from __future__ import annotations

from typing import Literal

import torch

from .. import ops
from ..ops._validate import dtype_name, tensor
from ..ops.metrics import resolve_data_range

Reduction = Literal["none", "mean"]
_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _batched(x: object, name: str) -> tuple[torch.Tensor, bool]:
    x = tensor(x, name)
    if x.dim() == 3:
        return x.unsqueeze(0), True
    if x.dim() != 4:
        raise ValueError(
            f"{name} must be (N, C, H, W) or (C, H, W), got a {x.dim()}-D tensor of shape "
            f"{tuple(x.shape)}"
        )
    return x, False


def _common_dtype(
    sr: torch.Tensor, hr: torch.Tensor, data_range: float | None
) -> tuple[torch.Tensor, torch.Tensor, float | None]:
    """Bring a mixed pair (typically float SR output vs uint8 ground truth) to one dtype.

    The uint8 image is mapped onto the float image's range (x / (255 / data_range): for
    data_range 1 that is x / 255, as torchvision's ToTensor computes it, so a float image made
    that way from the uint8 one compares as identical, PSNR inf); both become
    float32 (float64 if either is float64). This costs one conversion pass; same-dtype pairs are
    passed through untouched.
    """
    if sr.dtype == hr.dtype:
        return sr, hr, data_range
    for x, name in ((sr, "sr"), (hr, "hr")):
        if x.dtype != torch.uint8 and x.dtype not in _FLOAT_DTYPES:
            names = "uint8, float16, bfloat16, float32, float64"
            raise TypeError(f"{name} has dtype {dtype_name(x.dtype)}; expected one of {names}")
    floating = sr if sr.dtype != torch.uint8 else hr
    value = resolve_data_range(floating.dtype, data_range)
    target = torch.float64 if torch.float64 in (sr.dtype, hr.dtype) else torch.float32

    def convert(x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            return x.to(target) / (255.0 / value)
        return x.to(target)

    return convert(sr), convert(hr), value


def _prepare(
    sr: object, hr: object, data_range: float | None, reduction: str
) -> tuple[torch.Tensor, torch.Tensor, float | None, bool]:
    if reduction not in ("none", "mean"):
        raise ValueError(f"reduction must be 'none' or 'mean', got {reduction!r}")
    sr_t, single_sr = _batched(sr, "sr")
    hr_t, single_hr = _batched(hr, "hr")
    # Checked here so that the message shows the caller's shapes, not the (1, C, H, W) views.
    if single_sr != single_hr or sr_t.shape != hr_t.shape:
        raise ValueError(
            f"sr and hr must have the same shape, got {tuple(sr_t.shape[single_sr:])} and "
            f"{tuple(hr_t.shape[single_hr:])}"
        )
    if reduction == "mean" and sr_t.shape[0] == 0:
        raise ValueError("reduction='mean' of an empty batch (N = 0) has no value")
    # Metrics are not differentiable (quantisation, rounding): evaluate detached inputs.
    sr_t, hr_t, data_range = _common_dtype(sr_t.detach(), hr_t.detach(), data_range)
    return sr_t, hr_t, data_range, single_sr


def _reduce(values: torch.Tensor, reduction: str, single: bool) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    return values[0] if single else values


def psnr(
    sr: torch.Tensor,
    hr: torch.Tensor,
    *,
    data_range: float | None = None,
    crop_border: int = 0,
    y_channel: bool = False,
    quantize: bool = False,
    round_y: bool = False,
    reduction: Reduction = "none",
) -> torch.Tensor:
    """Peak signal-to-noise ratio per image, ``10 * log10(255**2 / mse)`` on the 8-bit scale.

    The protocol (in this order): scale to the 8-bit grid ``x * 255 / data_range``; crop
    `crop_border` pixels from every side; `quantize` (clamp to [0, 255] and round half to even,
    both images); `y_channel` (BT.601 studio-swing luma as MATLAB's ``rgb2ycbcr``:
    ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255``; a 1-channel image is treated as grey,
    R = G = B); `round_y` (round Y as ``rgb2ycbcr`` does on uint8). The MSE is per image, over
    its pixels and evaluated channels, never pooled across the batch.

    Args:
        sr, hr: (N, C, H, W) or (C, H, W) images of the same shape on one device; uint8,
            float16, bfloat16, float32 or float64, any layout. A float/uint8 mix is allowed (the
            uint8 image is mapped to the float image's range, at the cost of one conversion).
        data_range: white level of floating-point images (1.0 for [0, 1], 255.0 for [0, 255]);
            required for them. uint8 images are 255 (default for them).
        crop_border: border shave in pixels (the scale factor in the SR papers).
        y_channel: evaluate luma (C = 3 RGB, or C = 1 grey) instead of every channel.
        quantize: round both images to the 8-bit grid first (EDSR-PyTorch / BasicSR).
        round_y: MATLAB's rounded Y (needs uint8 input or quantize=True).
        reduction: 'none' (default): one value per image; 'mean': their mean (the dataset
            convention: a mean of per-image PSNRs, not the PSNR of a pooled MSE; an empty
            batch is an error).

    Returns:
        float64 tensor of shape (N,) ('none'; a 0-d tensor for a single (C, H, W) image) or ()
        ('mean'). Identical images give ``inf`` (and 'mean' is then ``inf`` too); a NaN pixel
        inside the evaluated region (what crop_border leaves) gives NaN for its image, an
        infinite one in one image ``-inf`` (with ``quantize`` it is clamped to the 8-bit range
        first and counts as 0 or 255); outside it, neither counts.

    Not differentiable: inputs are detached.
    Raises: TypeError / ValueError naming the offending argument (see `sr_kernels.ops.psnr`).
    """
    sr_t, hr_t, data_range, single = _prepare(sr, hr, data_range, reduction)
    values = ops.psnr(  # mse == 0 gives +inf
        sr_t,
        hr_t,
        data_range=data_range,
        crop_border=crop_border,
        y_channel=y_channel,
        quantize=quantize,
        round_y=round_y,
    )
    return _reduce(values, reduction, single)


def ssim(
    sr: torch.Tensor,
    hr: torch.Tensor,
    *,
    data_range: float | None = None,
    crop_border: int = 0,
    y_channel: bool = False,
    quantize: bool = False,
    round_y: bool = False,
    reduction: Reduction = "none",
) -> torch.Tensor:
    """Structural similarity per image (Wang et al., the SR-paper convention).

    Same protocol and arguments as `psnr`. Then, on each evaluated plane: Gaussian window
    11 x 11 with sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255, 'valid' filtering (the map loses 5
    pixels per side), no downsampling; the value is the mean of the map over its pixels and the
    planes (= the mean over channels of per-channel SSIM). The cropped image must be at least
    11 x 11.

    Returns:
        float64 tensor of shape (N,) (or as `psnr` for 'mean' / a single image). Identical
        images give 1 (to fp32 rounding); a NaN or (without ``quantize``, which clamps it)
        infinite pixel inside the evaluated region gives NaN for its image (outside it, it
        does not count).
    """
    sr_t, hr_t, data_range, single = _prepare(sr, hr, data_range, reduction)
    values = ops.ssim_mean(
        sr_t,
        hr_t,
        data_range=data_range,
        crop_border=crop_border,
        y_channel=y_channel,
        quantize=quantize,
        round_y=round_y,
    )
    return _reduce(values, reduction, single)
