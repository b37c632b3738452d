"""Upsampler ``pixel_shuffle(conv3x3(x, w, b), r)`` on the compiled extension (CUDA kernel
``csrc/cuda/conv_pixel_shuffle.cu``).

Registers the fake (meta) kernel of the C++ op
``sr_kernels::conv_pixel_shuffle(x, w, b, r)``: one kernel whose epilogue stores the
convolution output with the shuffle's index permutation
(``out[n, h*r + i, w*r + j, c] = conv[n, h, w, c*r*r + i*r + j]``), so the C*r*r-channel tensor
is never written.

Serves: CUDA tensors, float16 and bfloat16 (float32 goes to the Triton or reference backend),
r in {2, 3}, C_in a multiple of 16 up to 256, C (output channels after the shuffle) a multiple
of 16 for r = 2 and of 8 for r = 3. NHWC native; an NCHW input is converted to channels_last
inside the op (one copy) and the output keeps x's memory format. On the CPU (the ``cpu``
backend) the op is ATen's convolution (oneDNN) and pixel_shuffle composed in C++, any r, C and
floating dtype.

Backward (registered in C++ with the op, python/ops/conv_pixel_shuffle.cpp, for the host time a
Python formula costs): ``pixel_unshuffle`` of the output gradient, then
``aten.convolution_backward`` (cuDNN). Saves only x and w (no C*r*r-channel activation).
"""

from __future__ import annotations

from typing import Any

import torch

from ... import _ext
from .. import _layout, _trace

if not _ext.load():  # the registry only imports this module once the extension is loaded
    raise ImportError(f"sr_kernels extension not loaded: {_ext.info().reason}")

_DTYPES = (torch.float16, torch.bfloat16)
_CPU_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
MAX_IN_CHANNELS = 256


def channel_block(r: int) -> int:
    """Output channels (after the shuffle) the kernel's epilogue stores per pass."""
    return 16 if r == 2 else 8


def supports(meta: dict[str, Any]) -> str | None:
    if meta.get("device") == "cpu":
        dtype = meta.get("dtype")
        return None if dtype in _CPU_DTYPES else f"dtype {dtype} is not supported on the CPU"
    if meta.get("device") != "cuda":
        return f"the extension takes CPU or CUDA tensors, not {meta.get('device')}"
    dtype = meta.get("dtype")
    if dtype not in _DTYPES:
        return f"dtype {dtype} is not supported by the CUDA kernel (float16, bfloat16)"
    r = meta.get("r")
    if r not in (2, 3):
        return f"r = {r} is not supported (2 or 3)"
    c_in = meta.get("channels")
    if c_in is None:
        return "the input channel count is not in the metadata"
    if c_in % 16 != 0 or not 16 <= c_in <= MAX_IN_CHANNELS:
        return f"C_in = {c_in} is not a multiple of 16 between 16 and {MAX_IN_CHANNELS}"
    conv_channels = meta.get("out_channels")
    if conv_channels is None:
        return "the output channel count is not in the metadata"
    block = channel_block(r)
    if conv_channels % (r * r) != 0 or (conv_channels // (r * r)) % block != 0:
        return (
            f"C_out*r*r = {conv_channels}: the CUDA kernel needs C_out to be a multiple of "
            f"{block} for r = {r}"
        )
    return None


@torch.library.register_fake("sr_kernels::conv_pixel_shuffle")
def _conv_pixel_shuffle_fake(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, r: int
) -> torch.Tensor:
    torch._check(x.dim() == 4, lambda: f"x must be 4-D, got {x.dim()}-D")
    n, _, h, width = x.shape
    shape = (n, w.shape[0] // (r * r), h * r, width * r)
    return x.new_empty(shape).contiguous(memory_format=_layout.memory_format(x))


def conv_pixel_shuffle(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, r: int) -> torch.Tensor:
    _trace.record("conv_pixel_shuffle", "cuda" if x.is_cuda else "cpu")
    return torch.ops.sr_kernels.conv_pixel_shuffle(x, w, b, r)
