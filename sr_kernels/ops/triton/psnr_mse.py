"""Triton psnr_mse: per-image mean squared error of the SR protocol in one fused pass.

Work decomposition: program (chunk, n) walks ROWS cropped rows of image n in BLOCK-wide column
blocks; each lane loads its pixel's samples of both images once (C samples, 3 for luma), applies
the protocol (`_metric_pixels`: scale, clamp + round, luma, MATLAB Y rounding) in float64 and
adds the squared error to a float64 lane accumulator; the program stores one partial sum and the
launcher adds the (N, chunks) partials per image (fixed order: deterministic). uint8 images
evaluated per channel (no luma) take an integer path instead: exact int32 squares summed in
int64 lanes, no float64 conversion per sample (their scale is 1 and quantisation the identity).
That path takes 2048 columns per step and float32 per channel 512 (`block_for`): 16 bytes of
each image per thread and load. With 256 columns for every dtype uint8 gave 2 bytes per thread
and float32 8, and the H200 measured 13-31 % of the copy bandwidth for uint8, 49-60 % for
float32.
Bytes per pixel: C * element_size per image, read once; ~10 float64 flops. Memory-bound.

Registered as `sr_kernels::psnr_mse_triton` (and `sr_kernels::psnr_triton`, the same kernel
with the MSE turned into dB afterwards) with `torch.library.custom_op` + fake kernel;
inference-only (no autograd formula).
"""

from __future__ import annotations

from typing import Any

import torch
import triton
import triton.language as tl

from .._decibels import decibels
from ._launch import cdiv
from ._metric_pixels import (
    metric_custom_op,
    pair_arguments,
    pair_kernel_configs,
    plane_value,
    scale_from_pieces,
)
from ._metric_pixels import supports as supports  # the registry asks each backend module

ROWS = 8
NUM_WARPS = 4


def block_for(dtype: torch.dtype, y_channel: bool) -> int:
    """Columns per step: 16 bytes of each image per thread and load (a 128-bit load where rows
    are aligned) for uint8 per channel (the integer path, 2048) and float32 per channel (512);
    the other float64 paths keep 256 (more columns spilled registers in their luma and
    quantising variants on sm_90)."""
    if not y_channel and dtype in (torch.uint8, torch.float32):
        return 16 * 32 * NUM_WARPS // dtype.itemsize
    return 256


@triton.jit
def _psnr_mse_kernel(
    sr,
    hr,
    partial,
    rows,
    cols,
    planes,
    crop,
    sr_n, sr_c, sr_h, sr_w,
    hr_n, hr_c, hr_h, hr_w,
    sr_luma,
    hr_luma,
    scale_hi,
    scale_mid,
    scale_lo,
    Y: tl.constexpr,
    QUANTIZE: tl.constexpr,
    ROUND_Y: tl.constexpr,
    ROWS: tl.constexpr,
    BLOCK: tl.constexpr,
):  # fmt: skip
    chunk = tl.program_id(0)
    n = tl.program_id(1).to(tl.int64)
    scale = scale_from_pieces(scale_hi, scale_mid, scale_lo)
    sr_img = sr + n * sr_n
    hr_img = hr + n * hr_n
    # uint8 per channel: the scale is 1 and quantisation the identity, so the squares are exact
    # integers, summed in int64 lanes (any channel count) without a float64 conversion per sample.
    if sr.dtype.element_ty == tl.uint8 and not Y:
        acc = tl.zeros([BLOCK], dtype=tl.int64)
    else:
        acc = tl.zeros([BLOCK], dtype=tl.float64)
    for i in range(ROWS):
        row = (chunk * ROWS + i).to(tl.int64)
        for start in range(0, cols, BLOCK):
            col = start + tl.arange(0, BLOCK).to(tl.int64)
            mask = (col < cols) & (row < rows)
            sr_off = (row + crop) * sr_h + (col + crop) * sr_w
            hr_off = (row + crop) * hr_h + (col + crop) * hr_w
            if Y:
                a = plane_value(sr_img, sr_off, mask, 0, sr_luma, scale, True, QUANTIZE, ROUND_Y)
                b = plane_value(hr_img, hr_off, mask, 0, hr_luma, scale, True, QUANTIZE, ROUND_Y)
                d = a - b
                acc += tl.where(mask, d * d, 0.0)
            else:
                for q in range(planes):
                    if sr.dtype.element_ty == tl.uint8:
                        a = tl.load(sr_img + sr_off + q * sr_c, mask=mask, other=0).to(tl.int32)
                        b = tl.load(hr_img + hr_off + q * hr_c, mask=mask, other=0).to(tl.int32)
                        d = a - b
                        acc += (d * d).to(tl.int64)  # masked lanes loaded 0 - 0
                    else:
                        a = plane_value(
                            sr_img, sr_off, mask, q * sr_c, 0, scale, False, QUANTIZE, False
                        )
                        b = plane_value(
                            hr_img, hr_off, mask, q * hr_c, 0, scale, False, QUANTIZE, False
                        )
                        d = a - b
                        acc += tl.where(mask, d * d, 0.0)
    tl.store(partial + n * tl.num_programs(0) + chunk, tl.sum(acc, axis=0).to(tl.float64))


def _launch(
    sr: torch.Tensor,
    hr: torch.Tensor,
    data_range: float,
    crop_border: int,
    y_channel: bool,
    quantize: bool,
    round_y: bool,
) -> torch.Tensor:
    n, c, h, w = sr.shape
    rows, cols = h - 2 * crop_border, w - 2 * crop_border
    planes = 1 if y_channel else c
    chunks = cdiv(rows, ROWS)
    partial = torch.empty((n, chunks), dtype=torch.float64, device=sr.device)
    _psnr_mse_kernel[(chunks, n)](
        sr,
        hr,
        partial,
        rows,
        cols,
        planes,
        crop_border,
        *pair_arguments(sr, hr, data_range, y_channel),
        Y=y_channel,
        QUANTIZE=quantize,
        ROUND_Y=round_y,
        ROWS=ROWS,
        BLOCK=block_for(sr.dtype, y_channel),
        num_warps=NUM_WARPS,
    )
    return partial.sum(dim=1) / float(planes * rows * cols)


def _launch_psnr(*args: Any) -> torch.Tensor:
    """`_launch`'s arguments; its MSEs in dB (three small torch ops after the kernel: the CUDA op
    converts in its finaliser)."""
    return decibels(_launch(*args))


psnr_mse_triton = metric_custom_op("psnr_mse", _launch)
psnr_mse = psnr_mse_triton  # the names the registry calls
psnr_triton = metric_custom_op("psnr", _launch_psnr)
psnr = psnr_triton


def aot_configs() -> list[dict[str, Any]]:
    """Every configuration this module launches, for the static sm_80/sm_90 compile check."""
    arguments = {"partial": "*fp64", **dict.fromkeys(("rows", "cols", "planes", "crop"), "i32")}
    return pair_kernel_configs(
        _psnr_mse_kernel,
        "psnr_mse",
        arguments,
        lambda dtype, y_channel: {"ROWS": ROWS, "BLOCK": block_for(dtype, y_channel)},
        num_warps=NUM_WARPS,
    )
