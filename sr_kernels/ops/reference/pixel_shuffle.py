"""Reference pixel_shuffle / pixel_unshuffle: reshape + permute, the executable spec."""

from __future__ import annotations

from typing import Any

import torch

from .. import _layout, _trace

_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.uint8, torch.float64)


def supports(meta: dict[str, Any]) -> str | None:
    return None if meta["dtype"] in _DTYPES else f"dtype {meta['dtype']} is not supported"


def _new_output(x: torch.Tensor, shape: tuple[int, int, int, int]) -> torch.Tensor:
    """A new tensor for the output, in x's memory format. Always new: a reshape of x would be a
    view of it where the shuffle moves nothing (r = 1, 1 x 1 images), and an op's output must
    not share the input's memory (F.pixel_shuffle's does not)."""
    return torch.empty(
        shape, dtype=x.dtype, device=x.device, memory_format=_layout.memory_format(x)
    )


def pixel_shuffle(x: torch.Tensor, r: int) -> torch.Tensor:
    """out[n, c, h*r+i, w*r+j] = x[n, c*r*r + i*r + j, h, w]."""
    _trace.record("pixel_shuffle", "reference")
    n, c, h, w = x.shape
    oc = c // (r * r)
    out = _new_output(x, (n, oc, h * r, w * r))
    out.view(n, oc, h, r, w, r).copy_(x.reshape(n, oc, r, r, h, w).permute(0, 1, 4, 2, 5, 3))
    return out


def pixel_unshuffle(x: torch.Tensor, r: int) -> torch.Tensor:
    """out[n, c*r*r + i*r + j, h, w] = x[n, c, h*r+i, w*r+j]."""
    _trace.record("pixel_unshuffle", "reference")
    n, c, h, w = x.shape
    oh, ow = h // r, w // r
    out = _new_output(x, (n, c * r * r, oh, ow))
    out.view(n, c, r, r, oh, ow).copy_(x.reshape(n, c, oh, r, ow, r).permute(0, 1, 3, 5, 2, 4))
    return out
