"""Shared tolerance keys of the convolution tests (tests/ops/test_residual_block.py,
test_conv_pixel_shuffle.py, test_conv2d_act.py): which STYLE.md floor a result is held to."""

from __future__ import annotations

import torch

from sr_kernels.ops.triton import _conv_configs


def floor_key(backend: str, dtype: torch.dtype, device: torch.device) -> torch.dtype:
    """Floor key of a forward result: the dtype's own. fp32 on a GPU runs tf32x3 (near fp32,
    _conv_configs)."""
    assert not _conv_configs.allow_tf32()  # single-pass TF32 would need the "tf32" floor
    del backend, device
    return dtype


def grad_floor_key(backend: str, device: torch.device) -> torch.dtype | str:
    """Floor key of fp32 gradients: the backward runs cuDNN (aten.convolution_backward), which
    uses TF32 when ``torch.backends.cudnn.allow_tf32`` (PyTorch's default) is set."""
    cudnn_tf32 = device.type == "cuda" and torch.backends.cudnn.allow_tf32
    return "tf32" if (backend != "reference" and cudnn_tf32) else torch.float32
