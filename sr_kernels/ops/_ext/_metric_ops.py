"""What the extension's image-metric wrappers (psnr_mse.py, ssim_mean.py) share.

Both ops have one schema shape (sr, hr, data_range, crop_border, y_channel, quantize, round_y
-> one float64 per image), the same dtypes and no autograd formula (the public ops refuse
inputs that require grad), so one fake kernel and one dispatch wrapper serve both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ... import _ext
from .. import _trace

_DTYPES = (torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64)


def supports(meta: dict[str, Any]) -> str | None:
    return None if meta["dtype"] in _DTYPES else f"dtype {meta['dtype']} is not supported"


def _per_image_fake(sr, hr, data_range, crop_border, y_channel, quantize, round_y):
    return sr.new_empty((sr.shape[0],), dtype=torch.float64)


def metric_op(name: str) -> Callable[..., torch.Tensor]:
    """Registers the fake kernel of `sr_kernels::<name>`; returns the wrapper the registry calls."""
    # Checked here, not when this module is imported: loading runs the registry's pending
    # imports, which import the other metric module and so this one again, half-initialised.
    if not _ext.load():  # the registry only imports the metric modules once the extension is loaded
        raise ImportError(f"sr_kernels extension not loaded: {_ext.info().reason}")
    torch.library.register_fake(f"sr_kernels::{name}")(_per_image_fake)
    op = getattr(torch.ops.sr_kernels, name)

    def run(sr, hr, data_range, crop_border, y_channel, quantize, round_y) -> torch.Tensor:
        _trace.record(name, sr.device.type)
        return op(sr, hr, data_range, crop_border, y_channel, quantize, round_y)

    run.__name__ = run.__qualname__ = name
    return run
