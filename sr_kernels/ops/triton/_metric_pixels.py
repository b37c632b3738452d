"""Per-pixel protocol maths of the Triton metric kernels (psnr_mse, ssim_mean), as jit helpers.

Same protocol and rounding rules as ``csrc/common/metric_pixel.h`` and the float64 reference:
samples are scaled to the 8-bit grid in float64, quantised by clamp + round-half-to-even
(``(v + 2**52) - 2**52`` is exact round-to-nearest-even for 0 <= v < 2**52), converted to BT.601
luma with the integer numerators 65481/128553/24966 over 255000, and, for MATLAB's rounded Y,
floored exactly (a reciprocal multiply corrected by one integer comparison each way).

Triton passes Python floats as fp32, so the float64 scale 255 / data_range travels as three
fp32 pieces whose float64 sum is exactly the double (`split_scale`).
"""

from __future__ import annotations

import triton
import triton.language as tl

_TWO_52 = 4503599627370496.0


def split_scale(scale: float) -> tuple[float, float, float]:
    """Three fp32-representable floats whose float64 sum is exactly `scale` (a double)."""
    import numpy as np

    hi = float(np.float32(scale))
    mid = float(np.float32(scale - hi))
    lo = float(np.float32(scale - hi - mid))
    assert (hi + mid) + lo == scale
    return hi, mid, lo


@triton.jit
def scale_from_pieces(hi, mid, lo):
    return (tl.cast(hi, tl.float64) + tl.cast(mid, tl.float64)) + tl.cast(lo, tl.float64)


@triton.jit
def sample(ptr, offset, mask, scale, QUANTIZE: tl.constexpr):
    """One sample on the 8-bit scale (float64), optionally clamped and rounded half to even."""
    v = tl.load(ptr + offset, mask=mask, other=0).to(tl.float64) * scale
    if QUANTIZE:
        c = tl.minimum(tl.maximum(v, 0.0), 255.0)
        c = (c + 4503599627370496.0) - 4503599627370496.0
        v = tl.where(v != v, v, c)
    return v


@triton.jit
def luma(r, g, b, ROUND_Y: tl.constexpr):
    """BT.601 studio-swing Y (MATLAB rgb2ycbcr) of 8-bit-scale float64 RGB."""
    num = 65481.0 * r + 128553.0 * g + 24966.0 * b
    # Float literals are fp32 in Triton: form the float64 reciprocal from a float64 constant.
    inverse = 1.0 / tl.full([], 255000.0, tl.float64)
    if ROUND_Y:
        t = num + 127500.0
        k = tl.floor(t * inverse)
        k = tl.where((k + 1.0) * 255000.0 <= t, k + 1.0, tl.where(k * 255000.0 > t, k - 1.0, k))
        y = 16.0 + k
    else:
        y = 16.0 + num * inverse
    return y


@triton.jit
def plane_value(
    ptr,
    offset,
    mask,
    plane_offset,
    luma_stride,
    scale,
    Y: tl.constexpr,
    QUANTIZE: tl.constexpr,
    ROUND_Y: tl.constexpr,
):
    """The protocol value (float64) of one plane: a channel at `plane_offset`, or luma from the
    channels 0, `luma_stride`, 2 * `luma_stride` apart (stride 0: a grey image, R = G = B)."""
    if Y:
        r = sample(ptr, offset, mask, scale, QUANTIZE)
        g = sample(ptr, offset + luma_stride, mask, scale, QUANTIZE)
        b = sample(ptr, offset + 2 * luma_stride, mask, scale, QUANTIZE)
        v = luma(r, g, b, ROUND_Y)
    else:
        v = sample(ptr, offset + plane_offset, mask, scale, QUANTIZE)
    return v


def pointer_type(dtype) -> str:
    import torch

    return {
        torch.uint8: "*u8",
        torch.float16: "*fp16",
        torch.bfloat16: "*bf16",
        torch.float32: "*fp32",
        torch.float64: "*fp64",
    }[dtype]


def flag_sets() -> list[tuple[bool, bool, bool]]:
    """Every (Y, QUANTIZE, ROUND_Y) combination a launcher can pass (ROUND_Y needs Y)."""
    return [
        (y, q, r) for y in (False, True) for q in (False, True) for r in (False, True) if y or not r
    ]


__all__ = ["luma", "plane_value", "sample", "scale_from_pieces", "split_scale", "triton"]
