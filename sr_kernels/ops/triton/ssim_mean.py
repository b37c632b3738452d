"""Triton ssim_mean: per-image mean SSIM of the SR protocol, fused and separable.

Work decomposition: a program owns BLOCK_W output columns x ROWS output rows of one (image,
plane). It walks the ROWS + 10 input rows once; per row, for each of the 11 horizontal taps it
loads the shifted BLOCK_W samples of both images (L1/L2 hits after the first tap), applies the
protocol in float64 (`_metric_pixels`), subtracts a per-program shift and accumulates the five
horizontal moments (x, y, x^2, y^2, xy) in fp32. The last ten rows' moments live in registers as
loop-carried values (Triton cannot index a register array, so the ring is ten named values per
moment, rotated by renaming); from the eleventh row on, the vertical taps give the window moments
and the SSIM of BLOCK_W output pixels, summed in float64. No intermediate goes to global memory
except one partial sum per program; the launcher adds partials per image in a fixed order.
FLOPs per output value: ~110 fp32 FMA + the SSIM formula; bytes: each sample loaded ~11 times
from L1 and ~(1 + 10/ROWS) times from DRAM.

Numerics: the shift makes the variances E[(x-c)^2] - (E[x-c])^2 accurate in flat regions.
Registered as `sr_kernels::ssim_mean_triton` (`torch.library.custom_op` + fake); inference-only.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import triton
import triton.language as tl

from ._launch import cdiv
from ._metric_pixels import (
    metric_custom_op,
    pair_arguments,
    pair_kernel_configs,
    plane_value,
    scale_from_pieces,
)
from ._metric_pixels import supports as supports  # the registry asks each backend module

BLOCK_W = 128
ROWS = 32
NUM_WARPS = 4
# The 50-value register ring needs about 150-230 registers: without an explicit limit the ptxas
# of Triton 3.6 (the GPU validation machine's) stopped at 128 and spilled (fp64 inputs, sm_90).
MAX_REGISTERS = 255
WINDOW = 11
SIGMA = 1.5


def _taps() -> list[float]:
    raw = [math.exp(-((k - WINDOW // 2) ** 2) / (2.0 * SIGMA**2)) for k in range(WINDOW)]
    total = sum(raw)
    return [v / total for v in raw]


@triton.jit
def _ssim_value(mx, my, mxx, myy, mxy, cx, cy):
    sxx = mxx - mx * mx
    syy = myy - my * my
    sxy = mxy - mx * my
    ux = mx + cx
    uy = my + cy
    c1 = 6.5025
    c2 = 58.5225
    return ((2.0 * ux * uy + c1) * (2.0 * sxy + c2)) / ((ux * ux + uy * uy + c1) * (sxx + syy + c2))


@triton.jit
def _vertical(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10):  # fmt: skip  # noqa: E501
    s = w0 * a0 + w1 * a1 + w2 * a2 + w3 * a3 + w4 * a4 + w5 * a5
    return s + w6 * a6 + w7 * a7 + w8 * a8 + w9 * a9 + w10 * a10


@triton.jit
def _ssim_mean_kernel(
    sr,
    hr,
    taps,
    partial,
    planes,
    out_rows,
    out_cols,
    strips,
    chunks,
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
    BLOCK_W: tl.constexpr,
):  # fmt: skip
    pid = tl.program_id(0)
    strip = pid % strips
    chunk = (pid // strips) % chunks
    plane_index = pid // (strips * chunks)
    n = (plane_index // planes).to(tl.int64)
    q = (plane_index % planes).to(tl.int64)
    scale = scale_from_pieces(scale_hi, scale_mid, scale_lo)
    cols_in = out_cols + 10
    row0 = (chunk * ROWS).to(tl.int64)
    rows_here = tl.minimum(out_rows - chunk * ROWS, ROWS)
    col = (strip * BLOCK_W + tl.arange(0, BLOCK_W)).to(tl.int64)
    active = col < out_cols
    sr_img = sr + n * sr_n + (row0 + crop) * sr_h + crop * sr_w
    hr_img = hr + n * hr_n + (row0 + crop) * hr_h + crop * hr_w
    sr_plane = q * sr_c
    hr_plane = q * hr_c
    # Per-program shift: the first sample of the tile (row row0, column strip * BLOCK_W).
    first = (strip * BLOCK_W).to(tl.int64)
    cx = plane_value(sr_img, first * sr_w, True, sr_plane, sr_luma, scale, Y, QUANTIZE, ROUND_Y)
    cy = plane_value(hr_img, first * hr_w, True, hr_plane, hr_luma, scale, Y, QUANTIZE, ROUND_Y)
    w0 = tl.load(taps + 0)
    w1 = tl.load(taps + 1)
    w2 = tl.load(taps + 2)
    w3 = tl.load(taps + 3)
    w4 = tl.load(taps + 4)
    w5 = tl.load(taps + 5)
    w6 = tl.load(taps + 6)
    w7 = tl.load(taps + 7)
    w8 = tl.load(taps + 8)
    w9 = tl.load(taps + 9)
    w10 = tl.load(taps + 10)
    # One tl.zeros per ring value: Triton decides which names a loop carries by comparing their
    # values before and after the body, so names that start as the SAME tensor and are rotated
    # into each other would be taken for loop invariants (and stay zero on the GPU, while the
    # interpreter, plain Python, would run correctly).
    zero = tl.zeros([BLOCK_W], dtype=tl.float32)
    x0 = tl.zeros([BLOCK_W], dtype=tl.float32)
    x1 = tl.zeros([BLOCK_W], dtype=tl.float32)
    x2 = tl.zeros([BLOCK_W], dtype=tl.float32)
    x3 = tl.zeros([BLOCK_W], dtype=tl.float32)
    x4 = tl.zeros([BLOCK_W], dtype=tl.float32)
    x5 = tl.zeros([BLOCK_W], dtype=tl.float32)
    x6 = tl.zeros([BLOCK_W], dtype=tl.float32)
    x7 = tl.zeros([BLOCK_W], dtype=tl.float32)
    x8 = tl.zeros([BLOCK_W], dtype=tl.float32)
    x9 = tl.zeros([BLOCK_W], dtype=tl.float32)
    y0 = tl.zeros([BLOCK_W], dtype=tl.float32)
    y1 = tl.zeros([BLOCK_W], dtype=tl.float32)
    y2 = tl.zeros([BLOCK_W], dtype=tl.float32)
    y3 = tl.zeros([BLOCK_W], dtype=tl.float32)
    y4 = tl.zeros([BLOCK_W], dtype=tl.float32)
    y5 = tl.zeros([BLOCK_W], dtype=tl.float32)
    y6 = tl.zeros([BLOCK_W], dtype=tl.float32)
    y7 = tl.zeros([BLOCK_W], dtype=tl.float32)
    y8 = tl.zeros([BLOCK_W], dtype=tl.float32)
    y9 = tl.zeros([BLOCK_W], dtype=tl.float32)
    xx0 = tl.zeros([BLOCK_W], dtype=tl.float32)
    xx1 = tl.zeros([BLOCK_W], dtype=tl.float32)
    xx2 = tl.zeros([BLOCK_W], dtype=tl.float32)
    xx3 = tl.zeros([BLOCK_W], dtype=tl.float32)
    xx4 = tl.zeros([BLOCK_W], dtype=tl.float32)
    xx5 = tl.zeros([BLOCK_W], dtype=tl.float32)
    xx6 = tl.zeros([BLOCK_W], dtype=tl.float32)
    xx7 = tl.zeros([BLOCK_W], dtype=tl.float32)
    xx8 = tl.zeros([BLOCK_W], dtype=tl.float32)
    xx9 = tl.zeros([BLOCK_W], dtype=tl.float32)
    yy0 = tl.zeros([BLOCK_W], dtype=tl.float32)
    yy1 = tl.zeros([BLOCK_W], dtype=tl.float32)
    yy2 = tl.zeros([BLOCK_W], dtype=tl.float32)
    yy3 = tl.zeros([BLOCK_W], dtype=tl.float32)
    yy4 = tl.zeros([BLOCK_W], dtype=tl.float32)
    yy5 = tl.zeros([BLOCK_W], dtype=tl.float32)
    yy6 = tl.zeros([BLOCK_W], dtype=tl.float32)
    yy7 = tl.zeros([BLOCK_W], dtype=tl.float32)
    yy8 = tl.zeros([BLOCK_W], dtype=tl.float32)
    yy9 = tl.zeros([BLOCK_W], dtype=tl.float32)
    xy0 = tl.zeros([BLOCK_W], dtype=tl.float32)
    xy1 = tl.zeros([BLOCK_W], dtype=tl.float32)
    xy2 = tl.zeros([BLOCK_W], dtype=tl.float32)
    xy3 = tl.zeros([BLOCK_W], dtype=tl.float32)
    xy4 = tl.zeros([BLOCK_W], dtype=tl.float32)
    xy5 = tl.zeros([BLOCK_W], dtype=tl.float32)
    xy6 = tl.zeros([BLOCK_W], dtype=tl.float32)
    xy7 = tl.zeros([BLOCK_W], dtype=tl.float32)
    xy8 = tl.zeros([BLOCK_W], dtype=tl.float32)
    xy9 = tl.zeros([BLOCK_W], dtype=tl.float32)
    acc = tl.zeros([BLOCK_W], dtype=tl.float64)
    for r in range(0, rows_here + 10):
        sr_row = sr_img + r * sr_h
        hr_row = hr_img + r * hr_h
        hx = zero
        hy = zero
        hxx = zero
        hyy = zero
        hxy = zero
        for k in range(11):  # a loop, not unrolled: unrolled, the luma variants spill
            tap = col + k
            inside = tap < cols_in
            a = plane_value(
                sr_row, tap * sr_w, inside, sr_plane, sr_luma, scale, Y, QUANTIZE, ROUND_Y
            )  # noqa: E501
            b = plane_value(
                hr_row, tap * hr_w, inside, hr_plane, hr_luma, scale, Y, QUANTIZE, ROUND_Y
            )  # noqa: E501
            a = tl.where(inside, a - cx, 0.0).to(tl.float32)
            b = tl.where(inside, b - cy, 0.0).to(tl.float32)
            w = tl.load(taps + k)
            hx += w * a
            hy += w * b
            hxx += w * a * a
            hyy += w * b * b
            hxy += w * a * b
        mx = _vertical(
            x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, hx, w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10
        )  # noqa: E501
        my = _vertical(
            y0, y1, y2, y3, y4, y5, y6, y7, y8, y9, hy, w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10
        )  # noqa: E501
        mxx = _vertical(
            xx0,
            xx1,
            xx2,
            xx3,
            xx4,
            xx5,
            xx6,
            xx7,
            xx8,
            xx9,
            hxx,
            w0,
            w1,
            w2,
            w3,
            w4,
            w5,
            w6,
            w7,
            w8,
            w9,
            w10,
        )  # noqa: E501
        myy = _vertical(
            yy0,
            yy1,
            yy2,
            yy3,
            yy4,
            yy5,
            yy6,
            yy7,
            yy8,
            yy9,
            hyy,
            w0,
            w1,
            w2,
            w3,
            w4,
            w5,
            w6,
            w7,
            w8,
            w9,
            w10,
        )  # noqa: E501
        mxy = _vertical(
            xy0,
            xy1,
            xy2,
            xy3,
            xy4,
            xy5,
            xy6,
            xy7,
            xy8,
            xy9,
            hxy,
            w0,
            w1,
            w2,
            w3,
            w4,
            w5,
            w6,
            w7,
            w8,
            w9,
            w10,
        )  # noqa: E501
        s = _ssim_value(mx, my, mxx, myy, mxy, cx.to(tl.float32), cy.to(tl.float32))
        acc += tl.where(active & (r >= 10), s.to(tl.float64), 0.0)
        x0, x1, x2, x3, x4, x5, x6, x7, x8, x9 = x1, x2, x3, x4, x5, x6, x7, x8, x9, hx
        y0, y1, y2, y3, y4, y5, y6, y7, y8, y9 = y1, y2, y3, y4, y5, y6, y7, y8, y9, hy
        xx0, xx1, xx2, xx3, xx4, xx5, xx6, xx7, xx8, xx9 = (
            xx1,
            xx2,
            xx3,
            xx4,
            xx5,
            xx6,
            xx7,
            xx8,
            xx9,
            hxx,
        )  # noqa: E501
        yy0, yy1, yy2, yy3, yy4, yy5, yy6, yy7, yy8, yy9 = (
            yy1,
            yy2,
            yy3,
            yy4,
            yy5,
            yy6,
            yy7,
            yy8,
            yy9,
            hyy,
        )  # noqa: E501
        xy0, xy1, xy2, xy3, xy4, xy5, xy6, xy7, xy8, xy9 = (
            xy1,
            xy2,
            xy3,
            xy4,
            xy5,
            xy6,
            xy7,
            xy8,
            xy9,
            hxy,
        )  # noqa: E501
    tl.store(partial + pid, tl.sum(acc, axis=0))


_TAPS: dict[torch.device, torch.Tensor] = {}


def _taps_on(device: torch.device) -> torch.Tensor:
    if device not in _TAPS:
        _TAPS[device] = torch.tensor(_taps(), dtype=torch.float32, device=device)
    return _TAPS[device]


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
    out_rows, out_cols = rows - (WINDOW - 1), cols - (WINDOW - 1)
    planes = 1 if y_channel else c
    strips = cdiv(out_cols, BLOCK_W)
    chunks = cdiv(out_rows, ROWS)
    programs = n * planes * strips * chunks
    partial = torch.empty((programs,), dtype=torch.float64, device=sr.device)
    _ssim_mean_kernel[(programs,)](
        sr,
        hr,
        _taps_on(sr.device),
        partial,
        planes,
        out_rows,
        out_cols,
        strips,
        chunks,
        crop_border,
        *pair_arguments(sr, hr, data_range, y_channel),
        Y=y_channel,
        QUANTIZE=quantize,
        ROUND_Y=round_y,
        ROWS=ROWS,
        BLOCK_W=BLOCK_W,
        num_warps=NUM_WARPS,
        maxnreg=MAX_REGISTERS,
    )
    return partial.view(n, -1).sum(dim=1) / float(planes * out_rows * out_cols)


ssim_mean_triton = metric_custom_op("ssim_mean", _launch)
ssim_mean = ssim_mean_triton  # the name the registry calls


def aot_configs() -> list[dict[str, Any]]:
    """Every configuration this module launches, for the static sm_80/sm_90 compile check."""
    ints = ("planes", "out_rows", "out_cols", "strips", "chunks", "crop")
    arguments = {"taps": "*fp32", "partial": "*fp64", **dict.fromkeys(ints, "i32")}
    constexprs = {"ROWS": ROWS, "BLOCK_W": BLOCK_W}
    return pair_kernel_configs(
        _ssim_mean_kernel,
        "ssim_mean",
        arguments,
        constexprs,
        num_warps=NUM_WARPS,
        maxnreg=MAX_REGISTERS,
    )
