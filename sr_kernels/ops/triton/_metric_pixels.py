"""Per-pixel protocol maths of the Triton metric kernels (psnr_mse, ssim_mean), as jit helpers.

Same protocol and rounding rules as ``csrc/common/metric_pixel.h`` and the float64 reference:
samples are scaled to the 8-bit grid in float64, quantised by clamp + round-half-to-even
(``(v + 2**52) - 2**52`` is exact round-to-nearest-even for 0 <= v < 2**52), converted to BT.601
luma with the integer numerators 65481/128553/24966 over 255000, and, for MATLAB's rounded Y,
floored exactly (a reciprocal multiply corrected by one integer comparison each way).

Triton passes Python floats as fp32, so the float64 scale 255 / data_range travels as three
fp32 pieces whose float64 sum is exactly the double (`split_scale`).

Also the launcher plumbing the two ops share (the same image-pair arguments, dtypes, custom-op
schema and fake kernel): written once here so that the kernels' argument lists, their AOT
signatures and the two op registrations cannot drift apart.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch
import triton
import triton.language as tl

from .. import _trace
from ._launch import on_device

DTYPES = (torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64)

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


def supports(meta: dict[str, Any]) -> str | None:
    if meta["dtype"] not in DTYPES:
        return f"dtype {meta['dtype']} is not supported"
    if meta["dtype"] == torch.bfloat16 and os.environ.get("TRITON_INTERPRET", "0") == "1":
        return "bfloat16 arithmetic is not supported by the Triton interpreter"
    return None


# Both kernels take sr, hr first, then their own arguments, then this tail: the (n, c, h, w)
# strides of each image, each image's luma step (its channel stride for RGB luma; 0 for a grey
# image, R = G = B, and for per-channel planes, which ignore it) and the three scale pieces.
def pair_arguments(
    sr: torch.Tensor, hr: torch.Tensor, data_range: float, y_channel: bool
) -> tuple[Any, ...]:
    """The kernel arguments after the op's own (the tail of `pair_kernel_configs`' signature)."""

    def luma_step(x: torch.Tensor) -> int:
        return x.stride(1) if y_channel and x.shape[1] == 3 else 0

    return (
        *sr.stride(),
        *hr.stride(),
        luma_step(sr),
        luma_step(hr),
        *split_scale(255.0 / data_range),
    )


def pair_kernel_configs(
    kernel: Any,
    op: str,
    arguments: dict[str, str],
    constexprs: dict[str, int] | Callable[[torch.dtype, bool], dict[str, int]],
    **launch: int,
) -> list[dict[str, Any]]:
    """The `aot_configs()` entries of a metric kernel: every dtype x `flag_sets()`.

    `arguments` are the kernel's own (between hr and the `pair_arguments` tail), `constexprs`
    its own compile-time constants (after Y, QUANTIZE, ROUND_Y; or a function of the dtype and
    Y that gives them), `launch` the launch options.
    """
    configs = []
    for dtype in DTYPES:
        pointer = pointer_type(dtype)
        signature = {"sr": pointer, "hr": pointer, **arguments}
        for prefix in ("sr", "hr"):
            for dim in ("n", "c", "h", "w"):
                signature[f"{prefix}_{dim}"] = "i64"
        signature.update(sr_luma="i64", hr_luma="i64")
        signature.update(scale_hi="fp32", scale_mid="fp32", scale_lo="fp32")
        for y, q, r in flag_sets():
            own = constexprs(dtype, y) if callable(constexprs) else constexprs
            flags = {"Y": y, "QUANTIZE": q, "ROUND_Y": r, **own}
            configs.append(
                {
                    "kernel": kernel,
                    "signature": dict(signature, **dict.fromkeys(flags, "constexpr")),
                    "constexprs": flags,
                    **launch,
                    "name": f"{op}[{pointer[1:]},y={int(y)},q={int(q)},round_y={int(r)}]",
                }
            )
    return configs


def _per_image_fake(sr, hr, data_range, crop_border, y_channel, quantize, round_y):
    return sr.new_empty((sr.shape[0],), dtype=torch.float64)


# Both ops' schema: the one custom_op infers from the launchers' type hints, spelled out once.
_SCHEMA = (
    "(Tensor sr, Tensor hr, float data_range, SymInt crop_border, bool y_channel, bool quantize, "
    "bool round_y) -> Tensor"
)


def metric_custom_op(op: str, launch: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """`sr_kernels::<op>_triton`: a custom op (with its fake kernel) over `launch`, which is
    called for non-empty batches only and returns one float64 per image; inference-only."""

    def run(sr, hr, data_range, crop_border, y_channel, quantize, round_y):
        if sr.shape[0] == 0:  # nothing to launch
            out = sr.new_empty((0,), dtype=torch.float64)
        else:
            with on_device(sr):
                out = launch(sr, hr, data_range, crop_border, y_channel, quantize, round_y)
        _trace.record(op, "triton")
        return out

    name = f"sr_kernels::{op}_triton"
    custom = torch.library.custom_op(name, run, mutates_args=(), schema=_SCHEMA)
    custom.register_fake(_per_image_fake)
    return custom


__all__ = ["luma", "plane_value", "sample", "scale_from_pieces", "split_scale", "triton"]
