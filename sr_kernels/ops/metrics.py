"""Public image-metric ops: per-image MSE and mean SSIM under the SR evaluation protocol.

These are the kernels behind `sr_kernels.metrics.psnr` / `ssim`; most users want those. Both ops
take the protocol explicitly and return one float64 value per image.

Protocol (identical in every backend; see ``sr_kernels/metrics/README.md``):

1. Scale to the 8-bit grid: ``v = x * (255 / data_range)``.
2. Crop ``crop_border`` pixels from every side.
3. ``quantize``: clamp ``v`` to [0, 255] and round half to even (``torch.round``), as
   EDSR-PyTorch's ``quantize`` and BasicSR's ``tensor2img`` do. Applied to both images (a no-op
   for images that are already on the 8-bit grid, such as a uint8 ground truth).
4. ``y_channel``: BT.601 studio-swing luma as MATLAB's ``rgb2ycbcr``:
   ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255`` on 8-bit-scale RGB. A 1-channel image is
   a grey image (R = G = B, so ``Y = 16 + 219 v / 255``: the papers' replicate-then-convert rule).
   ``round_y`` additionally rounds Y half away from zero, as ``rgb2ycbcr`` does on uint8 images;
   it needs 8-bit values (uint8 input or ``quantize=True``).
"""

from __future__ import annotations

import torch

from . import _registry, _validate

SUPPORTED_DTYPES = (torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64)
SSIM_WINDOW = 11  # Gaussian window size (sigma 1.5); 'valid' filtering needs 11x11 pixels

# psnr lives in the psnr_mse modules: the same kernels with the MSE written as dB at the end, so
# psnr_mse's measured timings order its backends too.
for _op, _module in (("psnr_mse", "psnr_mse"), ("psnr", "psnr_mse"), ("ssim_mean", "ssim_mean")):
    _registry.register_op(
        _op,
        {
            "reference": f"sr_kernels.ops.reference.{_module}",
            "triton": f"sr_kernels.ops.triton.{_module}",
            "cpu": f"sr_kernels.ops._ext.{_module}",
            "cuda": f"sr_kernels.ops._ext.{_module}",
        },
        timings_op=_module,
    )


def resolve_data_range(dtype: torch.dtype, data_range: float | None) -> float:
    """The white level of images of `dtype`: 255 for uint8; floating images must say."""
    if data_range is None:
        if dtype == torch.uint8:
            return 255.0
        raise ValueError(
            "data_range is required for floating-point images: 1.0 for images in [0, 1], "
            "255.0 for images in [0, 255]"
        )
    value = _validate.positive_finite(data_range, "data_range")
    if dtype == torch.uint8 and value != 255.0:
        raise ValueError(f"uint8 images are on [0, 255]: data_range must be 255, got {data_range}")
    return value


def check_settings(
    crop_border: object, y_channel: object, quantize: object, round_y: object
) -> tuple[int, bool, bool, bool]:
    """The protocol settings that do not depend on the images (crop_border an int >= 0, the
    flags bools), as Python values. Also used by metrics.Protocol when made."""
    crop_border = _validate.integer(crop_border, "crop_border")
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}")
    y_channel = _validate.flag(y_channel, "y_channel")
    quantize = _validate.flag(quantize, "quantize")
    round_y = _validate.flag(round_y, "round_y")
    if round_y and not y_channel:
        raise ValueError("round_y=True needs y_channel=True")
    return crop_border, y_channel, quantize, round_y


def _run(
    op: str,
    min_size: int,
    sr: torch.Tensor,
    hr: torch.Tensor,
    data_range: float | None,
    crop_border: int,
    y_channel: bool,
    quantize: bool,
    round_y: bool,
) -> torch.Tensor:
    """What every metric op does: check the pair and the protocol (images of at least
    `min_size` x `min_size` pixels after the crop), then dispatch `op`."""
    _validate.tensor(sr, "sr")
    _validate.tensor(hr, "hr")
    _validate.ndim(sr, "sr", 4, "(N, C, H, W)")
    _validate.ndim(hr, "hr", 4, "(N, C, H, W)")
    if sr.shape != hr.shape:
        raise ValueError(
            f"sr and hr must have the same shape, got {tuple(sr.shape)} and {tuple(hr.shape)}"
        )
    _validate.dtype(sr, "sr", SUPPORTED_DTYPES)
    if hr.dtype != sr.dtype:
        raise TypeError(
            f"hr has dtype {_validate.dtype_name(hr.dtype)} but sr has "
            f"{_validate.dtype_name(sr.dtype)}; convert one (sr_kernels.metrics does this for you)"
        )
    if sr.device != hr.device:
        raise ValueError(f"sr is on {sr.device} but hr is on {hr.device}")
    if (sr.requires_grad or hr.requires_grad) and torch.is_grad_enabled():
        raise ValueError(
            "image metrics are inference-only (not differentiable): pass detached tensors or "
            "call under torch.no_grad()"
        )
    value = resolve_data_range(sr.dtype, data_range)
    crop_border, y_channel, quantize, round_y = check_settings(
        crop_border, y_channel, quantize, round_y
    )
    channels, height, width = sr.shape[1], sr.shape[2], sr.shape[3]
    if channels not in (1, 3):
        # An alpha channel scored as a fourth colour: an opaque one has no error, and Set5's
        # bird read as RGBA gained 1.25 dB (10 log10(4/3)) and 0.04 SSIM without a word.
        hint = ": drop the alpha channel first (x[:, :3])" if channels in (2, 4) else ""
        raise ValueError(
            f"sr and hr must be grey (1 channel) or RGB (3 channels) images, got {channels} "
            f"channels{hint}"
        )
    if height - 2 * crop_border < min_size or width - 2 * crop_border < min_size:
        raise ValueError(
            f"crop_border={crop_border} leaves less than {min_size}x{min_size} pixels of a "
            f"{height}x{width} image"
            + (" (SSIM's 11x11 'valid' window needs at least 11x11)" if min_size > 1 else "")
        )
    if round_y and not (quantize or sr.dtype == torch.uint8):
        raise ValueError(
            "round_y=True rounds Y as MATLAB's rgb2ycbcr does for uint8 images and needs 8-bit "
            "values: pass uint8 images or quantize=True"
        )
    meta = _registry.tensor_meta(sr, y_channel=y_channel)
    meta["hr_channels_last"] = _registry.is_channels_last(hr)
    return _registry.dispatch(op, meta, sr, hr, value, crop_border, y_channel, quantize, round_y)


def psnr_mse(
    sr: torch.Tensor,
    hr: torch.Tensor,
    *,
    data_range: float | None = None,
    crop_border: int = 0,
    y_channel: bool = False,
    quantize: bool = False,
    round_y: bool = False,
) -> torch.Tensor:
    """Per-image mean squared error on the 8-bit scale, after the protocol (module docstring).

    ``mse[n] = mean over planes, rows, cols of (P(sr)[n] - P(hr)[n])**2`` where P is steps 1-4
    of the protocol; ``PSNR = 10 * log10(255**2 / mse)``.

    Args:
        sr, hr: images of the same shape (N, C, H, W) and dtype, on one device; any strides
            (NCHW, channels_last, slices). C = 1 (grey) or 3 (RGB): an alpha channel would
            count as a colour whose error is 0, so RGBA is refused.
        data_range: white level: 1.0 for [0, 1] images, 255.0 for [0, 255]; uint8 images are
            255 (the default for them; anything else raises).
        crop_border: pixels removed from every side (the scale factor in the SR papers).
        y_channel: evaluate BT.601 luma (C = 3, or C = 1 as grey) instead of every channel.
        quantize: clamp and round both images to the 8-bit grid first.
        round_y: round luma as MATLAB's rgb2ycbcr on uint8 (needs uint8 input or quantize).

    Returns:
        float64 tensor of shape (N,) on the input device. 0 for identical images; NaN when an
        evaluated pixel of either image is NaN.

    Dtypes: uint8, float16, bfloat16, float32, float64.
    Backends: cuda (fused single pass), cpu (OpenMP), triton, reference (float64).
    Numerics: samples are formed in double (uint8 in exact integers) and squared errors summed in
        double in a fixed order: within ~1e-12 relative of the float64 reference, deterministic.
    Inference-only: raises on inputs that require grad while grad mode is on.
    Raises:
        TypeError: non-tensor input, unsupported or mismatched dtype, non-bool flags.
        ValueError: shapes differ, not 4-D, C not 1 or 3, crop too large, bad data_range,
            round_y without 8-bit values.
    """
    return _run("psnr_mse", 1, sr, hr, data_range, crop_border, y_channel, quantize, round_y)


def psnr(
    sr: torch.Tensor,
    hr: torch.Tensor,
    *,
    data_range: float | None = None,
    crop_border: int = 0,
    y_channel: bool = False,
    quantize: bool = False,
    round_y: bool = False,
) -> torch.Tensor:
    """Per-image PSNR in dB after the protocol (module docstring): ``10 * log10(255**2 / mse)``
    with ``mse`` as `psnr_mse` computes it.

    Same arguments, checks and backends as `psnr_mse`; the conversion to dB happens in the
    kernel's last step (CUDA, CPU), so it adds no launches. `sr_kernels.metrics.psnr` (3-D
    images, mixed dtypes, 'mean' reduction) is built on it.

    Returns:
        float64 tensor of shape (N,) on the input device. ``inf`` for identical images (MSE 0);
        NaN when an evaluated pixel of either image is NaN.
    """
    return _run("psnr", 1, sr, hr, data_range, crop_border, y_channel, quantize, round_y)


def ssim_mean(
    sr: torch.Tensor,
    hr: torch.Tensor,
    *,
    data_range: float | None = None,
    crop_border: int = 0,
    y_channel: bool = False,
    quantize: bool = False,
    round_y: bool = False,
) -> torch.Tensor:
    """Per-image mean SSIM (Wang et al.) after the protocol (module docstring).

    On each evaluated plane P (the luma plane, or every channel): Gaussian window 11x11 with
    sigma 1.5 (normalised), ``C1 = (0.01 * 255)**2``, ``C2 = (0.03 * 255)**2``, moments
    ``mu = w * P``, ``sigma**2 = w * P**2 - mu**2``, ``sigma_xy = w * (P_sr P_hr) - mu_sr mu_hr``,
    'valid' filtering (the map is 10 pixels smaller in each dimension), no downsampling;
    ``ssim[n]`` is the mean of the map over all its pixels and planes (= the mean over channels
    of per-channel SSIM).

    Args: as `psnr_mse`; the cropped image must be at least 11x11.

    Returns:
        float64 tensor of shape (N,). 1 for identical images (to fp32 rounding); NaN when a
        pixel is NaN.

    Dtypes: uint8, float16, bfloat16, float32, float64.
    Backends: cuda (fused separable, no full-size intermediates), cpu (OpenMP), triton,
        reference (float64).
    Numerics: fp32 moments on values shifted by a per-tile constant (variances are
        shift-invariant), SSIM sums in double: within ~1e-6 of the float64 reference.
    Inference-only, raises as `psnr_mse`.
    """
    return _run(
        "ssim_mean", SSIM_WINDOW, sr, hr, data_range, crop_border, y_channel, quantize, round_y
    )
