"""Reference residual block: ``x + res_scale * conv2(relu(conv1(x)))`` with torch.nn.functional.

The executable spec and the CPU path (the same cuDNN/oneDNN convolutions as ``nn.Conv2d``
eager; the scale and skip add are done in place in the second convolution's output).
Float64-capable and differentiable through PyTorch autograd. The output keeps the input's memory
format.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.autograd import forward_ad

from .. import _layout, _trace

_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


def supports(meta: dict[str, Any]) -> str | None:
    return None if meta["dtype"] in _DTYPES else f"dtype {meta['dtype']} is not supported"


def residual_block(
    x: torch.Tensor,
    w1: torch.Tensor,
    b1: torch.Tensor,
    w2: torch.Tensor,
    b2: torch.Tensor,
    res_scale: float = 1.0,
) -> torch.Tensor:
    _trace.record("residual_block", "reference")
    w1, w2 = _layout.like_input(w1, x), _layout.like_input(w2, x)
    hidden = F.relu(F.conv2d(x, w1, b1, padding=1), inplace=True)
    out = F.conv2d(hidden, w2, b2, padding=1)
    del hidden  # without autograd its buffer goes back before the epilogue
    # The epilogue in place, in conv2's fresh output: one fewer activation-sized buffer, which
    # on the CPU is also fewer page faults (glibc returns freed multi-MB blocks to the OS).
    # torch.add refuses an alpha beyond the dtype's range (res_scale 7e4 on fp16), though
    # the product may well fit.
    alpha_fits = abs(res_scale) <= torch.finfo(out.dtype).max
    if out.requires_grad or not alpha_fits:  # autograd records in-place ops but refuses out=
        out = _scale_and_add_in_place(out, x, res_scale)
    elif torch.compiler.is_compiling():  # the compiler plans buffers itself (and torch 2.11's
        out = torch.add(x, out, alpha=res_scale)  # dynamo refuses a channels_last out=)
    elif forward_ad.unpack_dual(out).tangent is not None:  # forward AD refuses out= too
        out = _scale_and_add_in_place(out, x, res_scale)
    else:
        out = torch.add(x, out, alpha=res_scale, out=out)
    return _layout.as_format_of(out, x)


def _scale_and_add_in_place(out: torch.Tensor, x: torch.Tensor, res_scale: float) -> torch.Tensor:
    return out.add_(x) if res_scale == 1.0 else out.mul_(res_scale).add_(x)
