"""Reference upsampler: ``F.pixel_shuffle(F.conv2d(x, w, b, padding=1), r)``.

Float64-capable, differentiable; the CPU path. The output keeps the input's memory format.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .. import _layout, _trace

_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


def supports(meta: dict[str, Any]) -> str | None:
    return None if meta["dtype"] in _DTYPES else f"dtype {meta['dtype']} is not supported"


def conv_pixel_shuffle(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, r: int) -> torch.Tensor:
    _trace.record("conv_pixel_shuffle", "reference")
    y = F.conv2d(x, _layout.like_input(w, x), b, padding=1)
    if y.shape[0] == 0:  # F.pixel_shuffle's backward (pixel_unshuffle) keeps an empty batch's
        n, c, h, width = y.shape  # shape, which autograd refuses: reshape it ourselves
        out = y.reshape(n, c // (r * r), h * r, width * r)
    else:
        out = F.pixel_shuffle(y, r)
    return _layout.as_format_of(out, x)
