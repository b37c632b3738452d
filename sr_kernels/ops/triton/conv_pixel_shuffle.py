"""Triton upsampler: ``pixel_shuffle(conv3x3(x, w, b, padding=1), r)`` in one kernel, r in {2, 3}.

The implicit-GEMM kernel of `conv2d_act` with SHUFFLE_R = r (see that module's header for the
work decomposition): GEMM columns are ordered (sub-pixel s = i*r + j, channel c), column
``s*C + c`` reads weight row ``c*r*r + s`` (PyTorch's channel order) and its epilogue stores
``out[n, h*r + i, w*r + j, c]``. The C*r*r-channel conv output is never written.

Bytes and FLOPs per input pixel (C_in = 64, C = 64, r = 2, bf16): 18 x 64 x 256 = 295 kFLOP;
HBM: 128 B read + 512 B written = 640 B -> 461 FLOP/B, above the bf16 ridge (295 FLOP/B): bound by
tensor-core throughput as far as operand traffic through L1/L2 allows (BLOCK_N = 64 columns per
program re-read the input tile 4 times from L1/L2). Eager conv + F.pixel_shuffle moves
640 + 2 x 512 = 1664 B per input pixel through HBM; the fused kernel 640 B (0.38x).
Measured (H200, 2026-11-29, bf16 NHWC): 1 x 64 x 270 x 480 in 241 us (159 TFLOP/s; eager conv +
F.pixel_shuffle 290 us: 1.20x); 16 x 64 x 48 x 48 in 93 us (0.89x); C = 256: 0.40-0.51x. The same
operand-latency limit as the residual block (see its header).
Accumulation fp32; fp32 operands use "tf32x3" (near fp32; no single-pass TF32,
see `_conv_configs.allow_tf32`).

Registered as ``sr_kernels::conv_pixel_shuffle_triton`` (custom_op + fake + autograd; backward:
``pixel_unshuffle`` of the gradient, then ``aten.convolution_backward``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .. import _layout, _trace
from . import _conv_configs as configs
from . import conv2d_act as _conv

supports = _conv.supports


@torch.library.custom_op("sr_kernels::conv_pixel_shuffle_triton", mutates_args=())
def conv_pixel_shuffle_triton(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, r: int, allow_tf32: bool
) -> torch.Tensor:
    out = _conv.launch(x, w, b, replicate=False, relu=False, shuffle_r=r, allow_tf32=allow_tf32)
    _trace.record("conv_pixel_shuffle", "triton")
    return out


@conv_pixel_shuffle_triton.register_fake
def _(x, w, b, r, allow_tf32):
    return x.new_empty(_conv.output_shape(x, w, r)).contiguous(
        memory_format=_layout.memory_format(x)
    )


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
    x, w, _, r, _ = inputs
    ctx.save_for_backward(x, w)
    ctx.r = r


def _backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
    x, w = ctx.saved_tensors
    n, c, h, width = grad.shape
    r = ctx.r
    # F.pixel_unshuffle returns an empty batch unreshaped: reshape it here.
    g_conv = F.pixel_unshuffle(grad, r) if n else grad.reshape(0, c * r * r, h // r, width // r)
    g_x, g_w, g_b = torch.ops.aten.convolution_backward(
        g_conv, x, w, [w.shape[0]], [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
        list(ctx.needs_input_grad[:3]),  # only what autograd asks for
    )  # fmt: skip
    return g_x, g_w, g_b, None, None


conv_pixel_shuffle_triton.register_autograd(_backward, setup_context=_setup_context)


def conv_pixel_shuffle(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, r: int) -> torch.Tensor:
    return conv_pixel_shuffle_triton(x, w, b, r, configs.allow_tf32())


def aot_configs() -> list[dict[str, Any]]:
    """Every configuration this module launches (3x3, r in {2, 3}, each tile config)."""
    result = []
    for dtype, _, cfg in configs.conv_configs(shuffle=True):
        for r in (2, 3):
            for precision in configs.precisions(dtype):
                pointer = _conv.POINTERS[dtype][1:]
                name = f"conv_pixel_shuffle[{pointer},r={r},{precision},{cfg}]"
                result.append(_conv.aot_entry(dtype, cfg, 3, r, precision, name))
    return result
