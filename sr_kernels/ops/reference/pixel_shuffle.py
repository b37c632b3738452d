"""Reference pixel_shuffle / pixel_unshuffle: reshape + permute, the executable spec."""

from __future__ import annotations

from typing import Any

import torch

from .. import _layout, _trace

_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.uint8, torch.float64)


def supports(meta: dict[str, Any]) -> str | None:
    return None if meta["dtype"] in _DTYPES else f"dtype {meta['dtype']} is not supported"


def pixel_shuffle(x: torch.Tensor, r: int) -> torch.Tensor:
    """out[n, c, h*r+i, w*r+j] = x[n, c*r*r + i*r + j, h, w]."""
    _trace.record("pixel_shuffle", "reference")
    n, c, h, w = x.shape
    oc = c // (r * r)
    y = x.reshape(n, oc, r, r, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, oc, h * r, w * r)
    return _layout.as_format_of(y, x)


def pixel_unshuffle(x: torch.Tensor, r: int) -> torch.Tensor:
    """out[n, c*r*r + i*r + j, h, w] = x[n, c, h*r+i, w*r+j]."""
    _trace.record("pixel_unshuffle", "reference")
    n, c, h, w = x.shape
    oh, ow = h // r, w // r
    y = x.reshape(n, c, oh, r, ow, r).permute(0, 1, 3, 5, 2, 4).reshape(n, c * r * r, oh, ow)
    return _layout.as_format_of(y, x)
