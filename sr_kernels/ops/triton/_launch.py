"""What every Triton launcher needs besides its kernel.

* `on_device`: Triton launches on the *current* CUDA device and stream, not on the device of the
  tensors it is given; a tensor on cuda:1 while cuda:0 is current would be read through cuda:0.
  Every launch runs inside `with on_device(tensor):`.
* `aligned`: the conv kernels specialise on 16-byte aligned pointers (Triton checks the
  pointer, storage offset included, at each launch); a view at an odd offset is copied once so
  that the launch compiles the aligned variant the static check covers.
* `nhwc_strides`: the (N, H, W) strides of a channels_last-contiguous tensor computed from its
  shape. PyTorch keeps arbitrary strides on dimensions of size 1 (e.g. an NCHW 1x1 weight is
  already "channels_last" with W and H strides 1), and Triton specialises integer arguments
  equal to 1: passing those would compile variants the static spill check never compiled. A
  size-1 dimension is only ever indexed at 0, so any stride is correct for it.
* `cdiv`: grid sizes in plain Python. `triton.cdiv` is a JIT function: called from Python it
  goes through Triton's launcher machinery (~2 us a call, several per launch).
"""

from __future__ import annotations

import contextlib

import torch


def on_device(t: torch.Tensor) -> contextlib.AbstractContextManager[object]:
    """The CUDA device of `t` made current for a launch (nothing to do for CPU tensors, which
    only the interpreter runs)."""
    return torch.cuda.device(t.device) if t.is_cuda else contextlib.nullcontext()


def aligned(t: torch.Tensor) -> torch.Tensor:
    """`t`, or a copy of it when its data is not 16-byte aligned (a view at an odd offset)."""
    return t if t.data_ptr() % 16 == 0 else t.clone(memory_format=torch.preserve_format)


def nhwc_strides(t: torch.Tensor) -> tuple[int, int, int]:
    """(N, H, W) strides of `t` (N, C, H, W) stored channels_last-contiguous, from its shape."""
    _, c, h, w = t.shape
    return h * w * c, w * c, c


def cdiv(a: int, b: int) -> int:
    """ceil(a / b) for non-negative a and positive b."""
    return -(-a // b)
