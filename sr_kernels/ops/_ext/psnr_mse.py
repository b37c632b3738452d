"""psnr_mse on the compiled extension (CPU OpenMP and CUDA kernels): fake kernel + dispatch.

Inference-only: no autograd formula (the public op refuses inputs that require grad).
"""

from __future__ import annotations

from typing import Any

import torch

from ... import _ext
from .. import _trace

if not _ext.load():  # the registry only imports this module once the extension is loaded
    raise ImportError(f"sr_kernels extension not loaded: {_ext.info().reason}")

_DTYPES = (torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64)


def supports(meta: dict[str, Any]) -> str | None:
    return None if meta["dtype"] in _DTYPES else f"dtype {meta['dtype']} is not supported"


@torch.library.register_fake("sr_kernels::psnr_mse")
def _psnr_mse_fake(sr, hr, data_range, crop_border, y_channel, quantize, round_y):
    return sr.new_empty((sr.shape[0],), dtype=torch.float64)


def psnr_mse(sr, hr, data_range, crop_border, y_channel, quantize, round_y) -> torch.Tensor:
    _trace.record("psnr_mse", sr.device.type)
    return torch.ops.sr_kernels.psnr_mse(
        sr, hr, data_range, crop_border, y_channel, quantize, round_y
    )
