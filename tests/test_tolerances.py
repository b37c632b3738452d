"""The tolerance rule's helpers (sr_kernels/tools/tolerances.py, STYLE.md section 8)."""

from __future__ import annotations

import math

import pytest
import torch

from sr_kernels.tools import tolerances


def test_relative_error_is_the_norm_ratio_in_float64():
    ref = torch.tensor([3.0, 4.0], dtype=torch.float64)
    out = torch.tensor([3.0, 4.5], dtype=torch.float16)
    assert tolerances.relative_error(out, ref) == 0.5 / 5.0
    assert tolerances.relative_error(out, torch.zeros(2)) == math.hypot(3.0, 4.5)


def test_relative_error_refuses_tensors_of_different_shapes():
    # Broadcast, [5] against [5, 5, 5] measured 0: a wrongly shaped output passed.
    for out, ref in [(torch.tensor([5.0]), torch.full((3,), 5.0)),
                     (torch.ones(1, 3, 4, 4), torch.ones(1, 3, 4, 1))]:  # fmt: skip
        with pytest.raises(ValueError, match="same shape"):
            tolerances.relative_error(out, ref)


def test_non_finite_output_fails_every_bound():
    ref = torch.ones(3)
    for bad in (float("nan"), float("inf")):
        out = torch.tensor([1.0, bad, 1.0])
        assert math.isinf(tolerances.relative_error(out, ref))


def test_bound_is_the_floor_or_k_times_torchs_own_error():
    assert tolerances.bound(torch.bfloat16) == 1e-2
    assert tolerances.bound(torch.float16, 1e-4) == 2e-3
    assert tolerances.bound(torch.float16, 5e-3) == tolerances.K * 5e-3
