"""Reference conv2d_act: stride-1 'same' convolution + bias + optional ReLU (torch.nn.functional).

Zero padding is the convolution's own padding; replicate padding pads explicitly first
(``F.pad(mode="replicate")``). Float64-capable, differentiable; the CPU path.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .. import _layout, _trace

_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


def supports(meta: dict[str, Any]) -> str | None:
    return None if meta["dtype"] in _DTYPES else f"dtype {meta['dtype']} is not supported"


def conv2d_act(
    x: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor,
    padding_mode: str = "zeros",
    activation: str = "relu",
) -> torch.Tensor:
    _trace.record("conv2d_act", "reference")
    w = _layout.like_input(w, x)
    pad = w.shape[-1] // 2
    if padding_mode == "replicate" and pad > 0:
        y = F.conv2d(F.pad(x, (pad, pad, pad, pad), mode="replicate"), w, b)
    else:
        y = F.conv2d(x, w, b, padding=pad)
    y = F.relu(y, inplace=True) if activation == "relu" else y
    # F.conv2d reads x's strides by PyTorch's rule: a 1-channel x laid out NHWC (both layouts at
    # once, which the contract counts as NCHW) gave a channels_last result, and a dense NHWC
    # batch of one with odd batch strides an NCHW one, where the other backends give x's format.
    return _layout.as_format_of(y, x)
