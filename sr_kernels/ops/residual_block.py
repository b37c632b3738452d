"""Public residual_block: the EDSR block conv3x3 -> ReLU -> conv3x3 -> x res_scale -> + x."""

from __future__ import annotations

import math

import torch

from . import _conv_validate as check
from . import _registry, _validate

_registry.register_op(
    "residual_block",
    {
        "reference": "sr_kernels.ops.reference.residual_block",
        "triton": "sr_kernels.ops.triton.residual_block",
        "cuda": "sr_kernels.ops._ext.residual_block",
        "cpu": "sr_kernels.ops._ext.residual_block",
    },
    gpu_order=("cuda", "triton", "reference"),
    # The cpu backend recomputes the intermediate in the backward (an extra convolution, which
    # the CPU pays in compute): chosen explicitly, or where measured timings put it first.
    cpu_order=("reference", "cpu"),
)


def residual_block(
    x: torch.Tensor,
    w1: torch.Tensor,
    b1: torch.Tensor,
    w2: torch.Tensor,
    b2: torch.Tensor,
    res_scale: float = 1.0,
) -> torch.Tensor:
    """EDSR residual block ``x + res_scale * conv3x3(relu(conv3x3(x, w1, b1)), w2, b2)``.

    Both convolutions are 3x3, stride 1, 'same' zero padding (the image is surrounded by zeros
    for each convolution; the intermediate is zero outside the image). On the GPU backends the
    whole block is one kernel: the ReLU intermediate never travels through device memory.

    Args:
        x: input image batch, shape (N, C, H, W).
        w1, w2: convolution weights, shape (C, C, 3, 3) (PyTorch's (C_out, C_in, kH, kW)).
        b1, b2: biases, shape (C,).
        res_scale: scale of the residual branch (EDSR uses 0.1 for its 256-channel model); any
            finite real number (int, float, numpy scalar), not a bool.

    Returns:
        Tensor of shape (N, C, H, W), in x's memory format (channels_last in -> channels_last
        out). Kernels are NHWC-native: a direct call on an NCHW tensor converts it to
        channels_last (one copy) and the result back (another); models convert once at their
        boundary so no copy happens per layer. The CUDA kernel reads the weights in their
        channels_last layout: channels_last weights (as models keep them) are used as they
        are, others are copied once per call.

    Dtypes: float32, float16, bfloat16 (all tensors share x's dtype); float64 on the reference.
    Under ``torch.autocast`` the tensors are cast as F.conv2d's arguments are (floating, not
    float64, to the autocast dtype) and the result, skip included, is in that dtype (an eager
    block's ``x + y`` would keep a float32 x in float32).
    Backends: cuda (compiled extension, when built), triton (C a multiple of 16), reference
    (torch.nn.functional: the CPU path), cpu (the same block in C++ over ATen, with the cuda
    backend's autograd formula). Differentiable on every backend; the cuda, cpu and triton
    backwards recompute the intermediate instead of saving it (one saved activation per block
    instead of two).
    Numerics: fp32 accumulation for fp16/bf16 storage; the intermediate is rounded to the
    storage dtype (as eager PyTorch does); the epilogue ``x + res_scale * y`` rounds once in
    the fused kernels, and once after the scale and once after the add in the reference under
    autograd or forward AD (as eager PyTorch does; bitwise different from its no-grad result
    in fp16/bf16, both within the tolerance).
    fp32 (Triton backend on a GPU): tensor-core "tf32x3" products (each operand split into two
    TF32 parts, three MMAs; near-fp32 accuracy, ~3x the MMA work of TF32); single-pass TF32 is
    not offered (it truncates operands: relative error ~7e-4). The backward's
    gradient convolutions are cuDNN's (TF32 per ``torch.backends.cudnn.allow_tf32``).
    Raises:
        TypeError: a non-tensor argument, an unsupported dtype, tensors of mixed dtypes, or a
            non-number res_scale.
        ValueError: x not 4-D, x with no channels or an empty plane (H or W = 0; an empty
            batch N = 0 is fine), a weight not (C, C, 3, 3), a bias not (C,), mixed devices,
            a res_scale that is NaN or infinite.
    """
    c = check.plain_block_args(x, w1, b1, w2, b2)
    if c is None:  # the detailed checks, which name the problem
        x, w1, b1, w2, b2 = check.block_args(x, w1, b1, w2, b2)
        c = x.shape[1]
    res_scale = _validate.real_number(res_scale, "res_scale")
    # Would make every output NaN or infinite. A comparison, not math.isfinite: under
    # torch.compile a float argument whose value changed becomes symbolic, which math.* refuses.
    if not abs(res_scale) < math.inf:
        raise ValueError(f"res_scale must be a finite number, got {res_scale}")
    meta = _registry.conv_meta(x, channels=c)
    return _registry.dispatch("residual_block", meta, x, w1, b1, w2, b2, res_scale)
