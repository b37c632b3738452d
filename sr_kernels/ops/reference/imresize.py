"""Reference imresize: MATLAB `imresize(x, scale, 'bicubic')` in plain PyTorch, float64 throughout.

The executable spec of `sr_kernels.ops.imresize`. Weight/index tables come from
`sr_kernels.ops._cubic` (float64); each pass is a sum over taps in tap order of
``weight[o, k] * x.index_select(axis, index[:, k])``, so it is differentiable (float inputs) and
works on any device.

* height pass, then width pass (the public op resizes a transposed copy when MATLAB would
  resize the width first);
* uint8 input: every pass is computed in float64 and rounded to uint8 (round half away from
  zero, clamped to 0..255), so the intermediate is rounded too, as MATLAB does for uint8;
* float input (float16, bfloat16, float32, float64): computed in float64, cast to the input dtype
  once at the end (no intermediate rounding).
"""

from __future__ import annotations

import operator
from typing import Any

import torch

from .. import _cubic, _layout, _trace

_DTYPES = (torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64)


def supports(meta: dict[str, Any]) -> str | None:
    return None if meta["dtype"] in _DTYPES else f"dtype {meta['dtype']} is not supported"


def round_uint8(x: torch.Tensor) -> torch.Tensor:
    """MATLAB's conversion of double to uint8: round half away from zero, saturate to 0..255."""
    clamped = x.clamp(0.0, 255.0)
    floor = clamped.floor()
    return floor + (clamped - floor >= 0.5).to(x.dtype)  # exact for doubles in [0, 256)


def resize_axis(
    x: torch.Tensor, axis: int, index: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    """out[..., o, ...] = sum_k weight[o, k] * x[..., index[o, k], ...] along `axis` (float64)."""
    # size(), not shape[]: dynamo (torch 2.14, dynamic shapes) cannot index the shape of the
    # constant tables `_tables` returns.
    shape = [1] * x.dim()
    shape[axis] = weight.size(0)
    out = None
    for k in range(weight.size(1)):
        term = weight[:, k].reshape(shape) * x.index_select(axis, index[:, k])
        out = term if out is None else out + term
    assert out is not None
    return out


@torch.compiler.assume_constant_result
def _tables(
    in_len: int, out_len: int, scale: float, antialias: bool, edge: str, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    # The tables depend only on the arguments: under torch.compile they are graph constants
    # (dynamo does not trace the NumPy code that builds them).
    index, weight = _cubic.contributions(in_len, out_len, scale, antialias, edge)
    return (
        torch.tensor(index, dtype=torch.int64, device=device),
        torch.tensor(weight, dtype=torch.float64, device=device),
    )


def imresize(
    x: torch.Tensor,
    out_h: int,
    out_w: int,
    scale_h: float,
    scale_w: float,
    antialias: bool,
    edge: str,
) -> torch.Tensor:
    """MATLAB bicubic resize of (N, C, H, W) `x` to (N, C, out_h, out_w) (see module docstring)."""
    _trace.record("imresize", "reference")
    # The tables depend on the sizes: specialised under torch.compile with dynamic shapes.
    h, w = operator.index(x.shape[2]), operator.index(x.shape[3])
    index_h, weight_h = _tables(h, out_h, scale_h, antialias, edge, x.device)
    index_w, weight_w = _tables(w, out_w, scale_w, antialias, edge, x.device)
    quantise = x.dtype == torch.uint8
    y = x.to(torch.float64)
    y = resize_axis(y, 2, index_h, weight_h)
    if quantise:
        y = round_uint8(y)
    y = resize_axis(y, 3, index_w, weight_w)
    if quantise:
        y = round_uint8(y)
    return _layout.as_format_of(y.to(x.dtype), x)
