"""MATLAB `imresize(..., 'bicubic')` weight/index tables (float64) for the Python backends.

A leaf module (NumPy only): the reference and Triton backends of `imresize` both build their
tables here, so they never import each other. The C++/CUDA backends build the same tables in
``csrc/common/cubic.h`` with the same operations in the same order, so the tables agree bit for
bit (tests/ops/test_imresize_tables.py checks it).

For one axis of length ``in_len`` resized to ``out_len`` with scale factor ``scale``:

* kernel: Keys cubic with a = -0.5; when ``scale < 1`` and ``antialias``, stretched to
  ``h(d) = scale * cubic(scale * d)`` of width ``4 / scale``, else ``cubic`` of width 4;
* output pixel ``x`` (1-based) samples the input at ``u = x / scale + 0.5 * (1 - 1 / scale)``;
* taps ``left + j`` for ``j < ceil(width) + 2`` with ``left = floor(u - width / 2)``;
* weights ``h(u - tap)``, normalised per output by their sum (taken left to right);
* taps outside ``1..in_len`` follow the edge rule: ``mirror`` indexes ``[1:n, n:-1:1]``
  periodically (MATLAB), ``clamp`` replicates the border pixel;
* tap columns whose weight is zero for every output are dropped (as MATLAB does).
"""

from __future__ import annotations

import functools
import math

import numpy as np

EDGES = ("mirror", "clamp")
# float32 resizes sum each output's taps in float32, one after another: the relative error grows
# like sqrt(taps) (CPU kernel, random images: 7.5e-8 at 18 taps, 3e-7 at 257, 1.3e-6 at 4082,
# 9e-6 at 80002) and crosses STYLE.md's 1e-6 for float32 near 2000 taps (downscales below about
# 1/500 with antialias, or the backward of upscales above about 500x). An axis with more taps
# than this (or whose backward has more) is resized in float64 by the public op
# (sr_kernels.ops.imresize), on every backend, and rounded once to float32.
MAX_FLOAT32_TAPS = 1024


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys cubic convolution kernel with a = -0.5 (support [-2, 2])."""
    a = np.abs(x)
    a2 = a * a
    a3 = a2 * a
    inner = 1.5 * a3 - 2.5 * a2 + 1.0
    outer = -0.5 * a3 + 2.5 * a2 - 4.0 * a + 2.0
    return np.where(a <= 1.0, inner, np.where(a <= 2.0, outer, 0.0))


def output_length(in_len: int, scale: float) -> int:
    """MATLAB's output size for a scale factor: ceil(in_len * scale)."""
    return int(math.ceil(in_len * scale))


def edge_index(taps: np.ndarray, in_len: int, edge: str) -> np.ndarray:
    """Map 0-based tap positions (possibly outside [0, in_len)) to valid input indices."""
    if edge == "mirror":
        period = np.mod(taps, 2 * in_len)
        return np.where(period < in_len, period, 2 * in_len - 1 - period)
    if edge == "clamp":
        return np.clip(taps, 0, in_len - 1)
    raise ValueError(f"edge must be one of {EDGES}, got {edge!r}")


@functools.lru_cache(maxsize=256)
def contributions(
    in_len: int, out_len: int, scale: float, antialias: bool, edge: str
) -> tuple[np.ndarray, np.ndarray]:
    """(index int64 [out_len, taps], weight float64 [out_len, taps]) for one axis.

    ``out[o] = sum_k weight[o, k] * in[index[o, k]]``. The arrays are read-only (cached).
    """
    if in_len < 1:
        raise ValueError(f"in_len must be >= 1, got {in_len}")
    stretch = antialias and scale < 1.0
    width = 4.0 / scale if stretch else 4.0
    full_taps = int(math.ceil(width)) + 2
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = left[:, None] + np.arange(full_taps, dtype=np.float64)[None, :]
    distance = u[:, None] - taps
    weight = scale * cubic(scale * distance) if stretch else cubic(distance)
    total = weight[:, 0].copy()
    for k in range(1, full_taps):  # left to right, as csrc/common/cubic.h sums
        total += weight[:, k]
    weight = weight / total[:, None]
    index = edge_index(taps.astype(np.int64) - 1, in_len, edge)
    keep = np.any(weight != 0.0, axis=0) if out_len else np.zeros(full_taps, dtype=bool)
    if out_len and keep.any():
        first = int(np.argmax(keep))
        last = full_taps - int(np.argmax(keep[::-1]))
        index, weight = index[:, first:last], weight[:, first:last]
    else:
        index, weight = index[:, :1], weight[:, :1]
    index, weight = np.ascontiguousarray(index), np.ascontiguousarray(weight)
    index.flags.writeable = False
    weight.flags.writeable = False
    return index, weight


@functools.lru_cache(maxsize=256)
def transposed(
    in_len: int, out_len: int, scale: float, antialias: bool, edge: str
) -> tuple[np.ndarray, np.ndarray]:
    """Tables of the adjoint resize (out_len -> in_len): the backward of `contributions`.

    ``grad_in[i] = sum_k weight[i, k] * grad_out[index[i, k]]`` lists, for each input pixel, the
    (output, weight) pairs that read it, in increasing output order; rows are padded with
    weight 0 at the row's last index (a pixel that no output reads: the output nearest to it),
    so that padding stays local (as csrc/common/cubic.h does).
    """
    index, weight = contributions(in_len, out_len, scale, antialias, edge)
    rows: list[list[tuple[int, float]]] = [[] for _ in range(in_len)]
    for o in range(out_len):
        for k in range(index.shape[1]):
            if weight[o, k] != 0.0:
                rows[int(index[o, k])].append((o, float(weight[o, k])))
    taps = max(1, max((len(r) for r in rows), default=1))
    t_index = np.zeros((in_len, taps), dtype=np.int64)
    t_weight = np.zeros((in_len, taps), dtype=np.float64)
    for i, row in enumerate(rows):
        for k, (o, w) in enumerate(row):
            t_index[i, k] = o
            t_weight[i, k] = w
        t_index[i, len(row) :] = row[-1][0] if row else (i * out_len) // in_len
    t_index.flags.writeable = False
    t_weight.flags.writeable = False
    return t_index, t_weight
