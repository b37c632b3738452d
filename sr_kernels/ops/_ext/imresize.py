"""imresize on the compiled extension (CPU OpenMP and CUDA kernels).

Registers the fake (meta) kernels and the autograd formulas of the C++ ops
`sr_kernels::imresize` and `sr_kernels::imresize_backward`: the backward of the (linear,
separable) resize is the transposed resize with the same weights, which the C++ side runs with
the same kernels and transposed tables; the backward of that is the forward resize again.
"""

from __future__ import annotations

from typing import Any

import torch

from ... import _ext
from .. import _layout, _trace

if not _ext.load():  # the registry only imports this module once the extension is loaded
    raise ImportError(f"sr_kernels extension not loaded: {_ext.info().reason}")

_DTYPES = (torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64)


def supports(meta: dict[str, Any]) -> str | None:
    return None if meta["dtype"] in _DTYPES else f"dtype {meta['dtype']} is not supported"


def _resized_like(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    n, c = x.shape[0], x.shape[1]
    return x.new_empty((n, c, h, w)).contiguous(memory_format=_layout.memory_format(x))


@torch.library.register_fake("sr_kernels::imresize")
def _imresize_fake(x, out_h, out_w, scale_h, scale_w, antialias, edge):
    return _resized_like(x, out_h, out_w)


@torch.library.register_fake("sr_kernels::imresize_backward")
def _imresize_backward_fake(grad, in_h, in_w, scale_h, scale_w, antialias, edge):
    return _resized_like(grad, in_h, in_w)


def _setup_forward(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
    x, _, _, ctx.scale_h, ctx.scale_w, ctx.antialias, ctx.edge = inputs
    ctx.in_h, ctx.in_w = x.shape[2], x.shape[3]


def _forward_backward(ctx: Any, grad: torch.Tensor):
    grad_x = torch.ops.sr_kernels.imresize_backward(
        grad, ctx.in_h, ctx.in_w, ctx.scale_h, ctx.scale_w, ctx.antialias, ctx.edge
    )
    return grad_x, None, None, None, None, None, None


def _setup_backward(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
    grad, _, _, ctx.scale_h, ctx.scale_w, ctx.antialias, ctx.edge = inputs
    ctx.out_h, ctx.out_w = grad.shape[2], grad.shape[3]


def _backward_backward(ctx: Any, grad: torch.Tensor):
    grad_grad = torch.ops.sr_kernels.imresize(
        grad, ctx.out_h, ctx.out_w, ctx.scale_h, ctx.scale_w, ctx.antialias, ctx.edge
    )
    return grad_grad, None, None, None, None, None, None


torch.library.register_autograd(
    "sr_kernels::imresize", _forward_backward, setup_context=_setup_forward
)
torch.library.register_autograd(
    "sr_kernels::imresize_backward", _backward_backward, setup_context=_setup_backward
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
    _trace.record("imresize", x.device.type)
    return torch.ops.sr_kernels.imresize(x, out_h, out_w, scale_h, scale_w, antialias, edge)
