"""Fused EDSR residual block on the compiled extension (CUDA: ``csrc/cuda/residual_block.cu``).

Registers the fake (meta) kernel of the C++ op
``sr_kernels::residual_block(x, w1, b1, w2, b2, res_scale)``, which computes
``x + res_scale * conv3x3(relu(conv3x3(x, w1, b1)), w2, b2)`` in one kernel: tensor-core MMA
(mma.sync, fp32 accumulation) over a shared-memory input tile with a 2-pixel halo; the ReLU
intermediate stays in shared memory. Two knobs, read at each call, select other forms of the
kernel for C <= 128 to time against it (README, environment variables):
SR_KERNELS_RESBLOCK_CUDA_WARPS=4 (two 4-warp blocks per SM) and SR_KERNELS_CUDA_WGMMA=1
(Hopper's warpgroup MMA, on compute capability 9.0 with sm_90a code).

Serves: CUDA tensors, float16 and bfloat16 (no float32 kernel: float32 goes to the Triton or
reference backend), C a multiple of 16 between 16 and 256. NHWC native; an NCHW input is
converted to channels_last inside the op (one copy), and the output keeps x's memory format.
On the CPU (the ``cpu`` backend) the op is the same block composed of ATen convolutions
(oneDNN) in C++, any C and floating dtype: the reference's maths with less host time per call
and the memory-saving backward below.

Backward (registered in C++ with the op, python/ops/residual_block.cpp, where it costs no Python
time: host time bounds a training step of small blocks): recomputes the intermediate
``relu(conv1(x))`` (one convolution) instead of saving it, and takes the gradient convolutions
from ``aten.convolution_backward`` (cuDNN). Only x and the weights are saved: one activation per
block instead of eager's two (x and the ReLU output), i.e. half the activation memory of a stack
of blocks, for one extra convolution per block in the backward pass.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from ... import _ext
from .. import _layout, _trace

if not _ext.load():  # the registry only imports this module once the extension is loaded
    raise ImportError(f"sr_kernels extension not loaded: {_ext.info().reason}")

_DTYPES = (torch.float16, torch.bfloat16)
_CPU_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
MAX_CHANNELS = 256


def min_shared_bytes(channels: int) -> int:
    """Shared memory of the smallest tile the launcher can pick (mirrors residual_block.cu).

    Input tile (T_h+4)(T_w+4) and intermediate (T_h+2)(T_w+2) pixels of C+8 two-byte elements,
    plus the 3-stage weight ring (64 rows x 72 for C < 256 or C % 128 != 0, else 128 x 40).
    The smallest tile is 4 x 8 in both configurations (C = 256: 113 KB, so sm_86/sm_89 with
    99 KB per block cannot run it; the launcher would report an invalid argument).
    """
    wide = channels % 128 == 0 and channels >= 256
    th, tw = 4, 8
    ring = 3 * (128 * 40 if wide else 64 * 72) * 2
    return ((th + 4) * (tw + 4) + (th + 2) * (tw + 2)) * (channels + 8) * 2 + ring


@functools.cache
def _device_shared_limit(index: int) -> int:
    props = torch.cuda.get_device_properties(index)
    # Not in torch's type stubs; present on CUDA builds (read the same way by inductor).
    return int(getattr(props, "shared_memory_per_block_optin", props.shared_memory_per_block))


def supports(meta: dict[str, Any]) -> str | None:
    if meta.get("device") == "cpu":
        dtype = meta.get("dtype")
        return None if dtype in _CPU_DTYPES else f"dtype {dtype} is not supported on the CPU"
    if meta.get("device") != "cuda":
        return f"the extension takes CPU or CUDA tensors, not {meta.get('device')}"
    dtype = meta.get("dtype")
    if dtype not in _DTYPES:
        return f"dtype {dtype} is not supported by the CUDA kernel (float16, bfloat16)"
    channels = meta.get("channels")
    if channels is None:
        return "the channel count is not in the metadata"
    if channels % 16 != 0 or not 16 <= channels <= MAX_CHANNELS:
        return f"C = {channels} is not a multiple of 16 between 16 and {MAX_CHANNELS}"
    if torch.cuda.is_available():
        limit = _device_shared_limit(torch.cuda.current_device())
        if min_shared_bytes(channels) > limit:
            return (
                f"C = {channels} needs {min_shared_bytes(channels)} bytes of shared memory per "
                f"block; this GPU allows {limit}"
            )
    return None


@torch.library.register_fake("sr_kernels::residual_block")
def _residual_block_fake(
    x: torch.Tensor,
    w1: torch.Tensor,
    b1: torch.Tensor,
    w2: torch.Tensor,
    b2: torch.Tensor,
    res_scale: float,
) -> torch.Tensor:
    torch._check(x.dim() == 4, lambda: f"x must be 4-D, got {x.dim()}-D")
    return x.new_empty(x.shape).contiguous(memory_format=_layout.memory_format(x))


def residual_block(
    x: torch.Tensor,
    w1: torch.Tensor,
    b1: torch.Tensor,
    w2: torch.Tensor,
    b2: torch.Tensor,
    res_scale: float = 1.0,
) -> torch.Tensor:
    _trace.record("residual_block", "cuda" if x.is_cuda else "cpu")
    return torch.ops.sr_kernels.residual_block(x, w1, b1, w2, b2, float(res_scale))
