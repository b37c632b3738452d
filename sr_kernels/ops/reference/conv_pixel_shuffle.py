"""Reference upsampler: ``F.pixel_shuffle(F.conv2d(x, w, b, padding=1), r)``.

Float64-capable, differentiable; the CPU path. The output keeps the input's memory format.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .. import _trace

_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


def supports(meta: dict[str, Any]) -> str | None:
    return None if meta["dtype"] in _DTYPES else f"dtype {meta['dtype']} is not supported"


def conv_pixel_shuffle(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, r: int) -> torch.Tensor:
    _trace.record("conv_pixel_shuffle", "reference")
    channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    # The convolution runs in x's layout: a weight in the other one would make oneDNN/cuDNN
    # compute channels_last and leave a full-size copy of the result to make (the weight is the
    # small tensor: 28 ms of layout copy for an NCHW EDSR patch batch on 2 CPU cores).
    out = F.pixel_shuffle(F.conv2d(x, w.contiguous(memory_format=memory_format), b, padding=1), r)
    return out.contiguous(memory_format=memory_format)
