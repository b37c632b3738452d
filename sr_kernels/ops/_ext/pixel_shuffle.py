"""pixel_shuffle / pixel_unshuffle on the compiled extension (CPU OpenMP and CUDA kernels).

Registers the fake (meta) kernels and the autograd formulas of the C++ ops
`sr_kernels::pixel_shuffle` and `sr_kernels::pixel_unshuffle`.
"""

from __future__ import annotations

from typing import Any

import torch

from ... import _ext
from .. import _layout, _trace

if not _ext.load():  # the registry only imports this module once the extension is loaded
    raise ImportError(f"sr_kernels extension not loaded: {_ext.info().reason}")

_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.uint8, torch.float64)


def supports(meta: dict[str, Any]) -> str | None:
    return None if meta["dtype"] in _DTYPES else f"dtype {meta['dtype']} is not supported"


@torch.library.register_fake("sr_kernels::pixel_shuffle")
def _pixel_shuffle_fake(x: torch.Tensor, r: int) -> torch.Tensor:
    n, c, h, w = x.shape
    shape = (n, c // (r * r), h * r, w * r)
    return x.new_empty(shape).contiguous(memory_format=_layout.memory_format(x))


@torch.library.register_fake("sr_kernels::pixel_unshuffle")
def _pixel_unshuffle_fake(x: torch.Tensor, r: int) -> torch.Tensor:
    n, c, h, w = x.shape
    shape = (n, c * r * r, h // r, w // r)
    return x.new_empty(shape).contiguous(memory_format=_layout.memory_format(x))


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
    ctx.r = inputs[1]


def _shuffle_backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
    return torch.ops.sr_kernels.pixel_unshuffle(grad, ctx.r), None


def _unshuffle_backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
    return torch.ops.sr_kernels.pixel_shuffle(grad, ctx.r), None


torch.library.register_autograd(
    "sr_kernels::pixel_shuffle", _shuffle_backward, setup_context=_setup_context
)
torch.library.register_autograd(
    "sr_kernels::pixel_unshuffle", _unshuffle_backward, setup_context=_setup_context
)


def pixel_shuffle(x: torch.Tensor, r: int) -> torch.Tensor:
    _trace.record("pixel_shuffle", x.device.type)
    return torch.ops.sr_kernels.pixel_shuffle(x, r)


def pixel_unshuffle(x: torch.Tensor, r: int) -> torch.Tensor:
    _trace.record("pixel_unshuffle", x.device.type)
    return torch.ops.sr_kernels.pixel_unshuffle(x, r)
