"""Public conv2d_act: stride-1 'same' convolution with bias and activation fused."""

from __future__ import annotations

import torch

from . import _conv_validate as check
from . import _registry

_registry.register_op(
    "conv2d_act",
    {
        "reference": "sr_kernels.ops.reference.conv2d_act",
        "triton": "sr_kernels.ops.triton.conv2d_act",
    },
    gpu_order=("triton", "reference"),
    cpu_order=("reference",),
)

PADDING_MODES = ("zeros", "replicate")
ACTIVATIONS = ("relu", "none")


def conv2d_act(
    x: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor,
    padding_mode: str = "zeros",
    activation: str = "relu",
) -> torch.Tensor:
    """``act(conv2d(pad(x), w) + b)``: odd square kernel, stride 1, output the size of x.

    For EDSR's head (3 -> C) and tail (C -> 3) and SRCNN's 9x9 / 1x1 / 5x5 / 3x3 layers. One and
    three channels are handled inside the kernel (no padded copies of the image).

    Args:
        x: input, shape (N, C_in, H, W).
        w: weight, shape (C_out, C_in, k, k), k odd (1, 3, 5, 9 on the Triton backend).
        b: bias, shape (C_out,).
        padding_mode: "zeros" (PyTorch's ``padding=k//2``) or "replicate" (edge pixels
            repeated, as ``nn.Conv2d(padding_mode="replicate")``).
        activation: "relu" or "none".

    Returns:
        Tensor of shape (N, C_out, H, W) in x's memory format (an NCHW input is converted to
        channels_last for the kernel: one documented copy each way).

    Dtypes: float32 (Triton on a GPU: near-fp32 "tf32x3" tensor-core products, single-pass TF32
    not offered; backward via cuDNN), float16, bfloat16 with fp32
    accumulation; float64 on the reference. All tensors share x's dtype; under
    ``torch.autocast`` they are cast as F.conv2d's arguments are.
    Backends: triton, reference (the CPU path). Differentiable.
    Raises:
        TypeError: non-tensor argument, unsupported or mixed dtypes.
        ValueError: x or w not 4-D, x with no channels or an empty plane (H or W = 0; an
            empty batch N = 0 is fine), w with no output channels, even or non-square kernel,
            C_in mismatch, bad bias shape, unknown padding_mode or activation.
    """
    sizes = check.plain_conv_args(x, w, b)
    if sizes is None:  # the detailed checks, which name the problem
        x, w, b = check.conv_args(x, w, b)
        sizes = x.shape[1], w.shape[0], w.shape[-1]
    c_in, c_out, k = sizes
    if not (
        isinstance(padding_mode, str) and padding_mode in PADDING_MODES
        and isinstance(activation, str) and activation in ACTIVATIONS
    ):  # fmt: skip
        padding_mode = check.choice(padding_mode, "padding_mode", PADDING_MODES)
        activation = check.choice(activation, "activation", ACTIVATIONS)
    meta = _registry.conv_meta(x, channels=c_in, out_channels=c_out, kernel_size=k)
    return _registry.dispatch("conv2d_act", meta, x, w, b, padding_mode, activation)
