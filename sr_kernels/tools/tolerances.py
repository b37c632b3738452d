"""The tolerance rule of STYLE.md section 8, in one place for the tests and for the correctness
checks of the benchmark tools (bench/sweep_conv_configs.py).

A fast result `out` passes against the float64 reference `ref64` when
``relative_error(out, ref64) <= max(K * relative_error(torch_same_dtype, ref64), FLOORS[key])``,
where `torch_same_dtype` is PyTorch's own result in the input dtype (how far that dtype's
rounding alone moves it) and `key` is the dtype (or "tf32").
"""

from __future__ import annotations

import torch

# Relative-error floors ||out - ref64|| / ||ref64||; integer (uint8) results are compared exactly.
FLOORS: dict[torch.dtype | str, float] = {
    torch.float64: 1e-12,
    torch.float32: 1e-6,
    "tf32": 5e-4,
    torch.float16: 2e-3,
    torch.bfloat16: 1e-2,
}
K = 2.0  # the factor on PyTorch's own same-dtype error


def relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    """``||out - ref|| / ||ref||`` in float64 on `out`'s device (``||out - ref||`` when `ref` is
    all zeros); +inf when `out` has a NaN or an infinity, so that it fails every bound. The
    shapes must be equal (ValueError otherwise)."""
    if out.shape != ref.shape:  # broadcasting would compare something else, maybe as 0
        raise ValueError(
            f"out and ref must have the same shape, got {tuple(out.shape)} and {tuple(ref.shape)}"
        )
    out64 = out.detach().to(torch.float64)
    if not torch.isfinite(out64).all():
        return float("inf")
    ref64 = ref.detach().to(out64.device, torch.float64)
    denominator = ref64.norm().item()
    difference = (out64 - ref64).norm().item()
    return difference / denominator if denominator > 0 else difference


def bound(key: torch.dtype | str, same_dtype_error: float | None = None) -> float:
    """The largest relative error allowed: the floor of `key`, or K times PyTorch's own
    same-dtype error when that is larger."""
    floor = FLOORS[key]
    return floor if same_dtype_error is None else max(floor, K * same_dtype_error)
