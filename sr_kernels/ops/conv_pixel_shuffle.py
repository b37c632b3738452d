"""Public conv_pixel_shuffle: the sub-pixel upsampler ``pixel_shuffle(conv3x3(x), r)``."""

from __future__ import annotations

import torch

from . import _conv_validate as check
from . import _registry

_registry.register_op(
    "conv_pixel_shuffle",
    {
        "reference": "sr_kernels.ops.reference.conv_pixel_shuffle",
        "triton": "sr_kernels.ops.triton.conv_pixel_shuffle",
        "cuda": "sr_kernels.ops._ext.conv_pixel_shuffle",
        "cpu": "sr_kernels.ops._ext.conv_pixel_shuffle",
    },
    gpu_order=("cuda", "triton", "reference"),
    cpu_order=("reference", "cpu"),  # the same ATen calls; measured timings may reorder them
)


def conv_pixel_shuffle(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, r: int) -> torch.Tensor:
    """``F.pixel_shuffle(F.conv2d(x, w, b, padding=1), r)`` as one kernel, r in {2, 3}.

    ``out[n, c, h*r + i, w*r + j] = conv[n, c*r*r + i*r + j, h, w]`` (PyTorch channel order).
    On the GPU backends the shuffle is the store pattern of the convolution's epilogue: the
    C*r*r-channel tensor is never written.

    Args:
        x: input, shape (N, C_in, H, W).
        w: weight, shape (C*r*r, C_in, 3, 3).
        b: bias, shape (C*r*r,).
        r: upscale factor, 2 or 3 (x4 is two x2 stages, as in EDSR); an int or NumPy integer.

    Returns:
        Tensor of shape (N, C, H*r, W*r) in x's memory format (an NCHW input is converted to
        channels_last for the kernel: one documented copy each way). The CUDA kernel reads
        the weight in its channels_last layout: a channels_last weight is used as it is,
        another is copied once per call.

    Dtypes: float32 (Triton on a GPU: near-fp32 "tf32x3" tensor-core products, single-pass TF32
    not offered; backward via cuDNN; no CUDA kernel), float16,
    bfloat16 with fp32 accumulation; float64 on the reference. All tensors share x's dtype;
    under ``torch.autocast`` they are cast as F.conv2d's arguments are.
    Backends: cuda (when built), triton, reference (the CPU path), cpu (the same ATen calls in
    C++, with the cuda backend's autograd formula). Differentiable.
    Raises:
        TypeError: non-tensor argument, unsupported or mixed dtypes, r not an int.
        ValueError: x not 4-D, x with no channels or an empty plane (H or W = 0; an empty
            batch N = 0 is fine), r not 2 or 3, w not (C*r*r, C_in, 3, 3) with C >= 1,
            b not (C*r*r,).
    """
    sizes = check.plain_upsampler_args(x, w, b, r)
    if sizes is None:  # the detailed checks, which name the problem
        x, w, b, r = check.upsampler_args(x, w, b, r)
        sizes = x.shape[1], w.shape[0]
    c_in, c_out = sizes
    meta = _registry.conv_meta(x, channels=c_in, out_channels=c_out, r=r)
    return _registry.dispatch("conv_pixel_shuffle", meta, x, w, b, r)
