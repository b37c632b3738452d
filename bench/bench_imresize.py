"""imresize: ours (auto and each backend) against F.interpolate(bicubic, antialias), PIL and NumPy.

Workloads: a DIV2K-size RGB uint8 image (2040x1356) x4 down (-> 510x339) and x4 up (510x339 ->
2040x1356); batch 1 on CPU, batch 16 on GPU. The roofline is the copy bandwidth
(`_roofline.resize_cost`: input read once, output written once; FLOPs counted for the taps).

Checks before timing: our rows must equal MATLAB's result exactly. On CPU the expected image is
the independent NumPy MATLAB implementation of `_baselines` (row "numpy-matlab"), on GPU our
float64 reference backend. The baselines are never the expected image: F.interpolate and PIL
implement a different bicubic (PIL-style border handling, fixed-point weights on CPU uint8, and
on CUDA, which has no uint8 bicubic, the float32 round trip of the "torch-fp32" row with no
rounding between the passes), so their rows are checked loosely: same shape and a mean absolute
difference from MATLAB's image below one grey level.
"""

from __future__ import annotations

import math
import os

import _baselines
import _harness
import _roofline
import _workloads
import pytest
import torch

from sr_kernels import ops

OP = "imresize"
DTYPES = (torch.uint8,)


def _matlab_expected(x: torch.Tensor, factor: float) -> torch.Tensor:
    if x.device.type == "cpu":
        return _baselines.get(OP, "numpy-matlab").fn(x, factor)
    with ops.use_backend("reference"):
        return ops.imresize(x, factor)


def _exact(out: torch.Tensor, expected: torch.Tensor) -> None:
    _harness.assert_exact(out.contiguous(), expected.contiguous())


def _close_in_mean(out: torch.Tensor, expected: torch.Tensor) -> None:
    # Baselines only (never our rows, which must match MATLAB exactly): a different bicubic
    # (PIL-style borders, fixed-point weights or a float32 round trip), so only the shape and
    # rough agreement are checked; differences sit mostly within a few pixels of the border.
    assert out.shape == expected.shape, f"shape {tuple(out.shape)} != {tuple(expected.shape)}"
    difference = (out.cpu().double() - expected.cpu().double()).abs().mean().item()
    assert difference < 1.0, f"mean |difference| from MATLAB's image is {difference:.3f}"


def _taps(workload: _workloads.ResizeWorkload) -> tuple[int, int]:
    # Nonzero taps per output of the cubic kernel: 4, stretched to 4/factor when downscaling
    # (16 for x4 down; the zero end taps of MATLAB's ceil(width) + 2 are dropped).
    taps = math.ceil(4 / min(workload.factor, 1.0))
    return taps, taps


def _variants() -> dict[str, str]:
    # The CUDA backend's kernel is chosen per call by SR_KERNELS_IMRESIZE_FUSED (unset or 1: one
    # fused launch where the tables fit; 0: the two passes) and, in the fused kernel, by
    # SR_KERNELS_IMRESIZE_RUNS (unset or 1: its integer-scale paths, runs and quads; 0: not):
    # label the rows so that runs with each setting can be told apart in one report.
    if os.environ.get("SR_KERNELS_IMRESIZE_FUSED") == "0":
        return {"cuda": "two-pass"}
    runs = os.environ.get("SR_KERNELS_IMRESIZE_RUNS") != "0"
    return {"cuda": "fused" if runs else "fused, no runs"}


@pytest.mark.parametrize("case", _harness.cases(OP, _workloads.IMRESIZE, DTYPES))
def test_imresize(bench, case: _harness.Case) -> None:
    workload = case.workload
    x = workload.make_input(case.dtype, case.layout, case.device)
    factor = workload.factor
    cost = _roofline.resize_cost(
        workload.input_shape, workload.output_shape, case.dtype, taps=_taps(workload)
    )
    expected = _matlab_expected(x, factor)
    # Ours is paired with F.interpolate only: the NumPy and Pillow rows take tens to hundreds of
    # ms a call (CPU), too long to interleave.
    primary = _baselines.primary(OP, case.device).name
    fn, paired = _harness.calls(case, ops.imresize, x, factor, paired_only=(primary,))
    if case.is_ours:
        check, variants = _exact, _variants()
    else:
        check = _exact if case.baseline.name == "numpy-matlab" else _close_in_mean
        variants = None
    bench(
        case,
        fn,
        expected=expected,
        cost=cost,
        check=check,
        variants=variants,
        paired=paired,
        paired_check=_close_in_mean,  # F.interpolate: not MATLAB's
    )
