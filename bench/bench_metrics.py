"""PSNR / SSIM: ours (auto and each backend) against eager PyTorch, torchmetrics and scikit-image.

Protocol: the study's (RGB, no crop, data range 255, per-image values), which every baseline
implements as is. Workloads: 16 RGB 512x512 pairs on CPU, 16 RGB 1080p pairs on GPU; uint8 (and
float32 on GPU, with data_range=1).

Groups: ``psnr`` (roofline: both images read once, `_roofline.psnr_cost`), ``ssim``
(`_roofline.ssim_cost`) and ``psnr_ssim`` (both metrics of the same pairs, the evaluation-loop
case). Targets (issue #4): CPU psnr_ssim at least 5x skimage and 2x torchmetrics; GPU psnr at
least 80% of the measured copy bandwidth, ssim at least 5x torchmetrics.

Checks before timing: against the primary baseline (eager PyTorch): PSNR within 1e-4 dB
(torchmetrics sums in float32), SSIM within 1e-4 (the baselines filter in float32).
"""

from __future__ import annotations

import _baselines
import _harness
import _roofline
import _workloads
import pytest
import torch

from sr_kernels import metrics

DTYPES = (torch.uint8, torch.float32)
DTYPES_BY_DEVICE = {"cpu": (torch.uint8,)}
TRACE = {"psnr": "psnr", "ssim": "ssim_mean", "psnr_ssim": "ssim_mean"}


def _data_range(dtype: torch.dtype) -> float | None:
    return None if dtype == torch.uint8 else 1.0


def _baseline_range(dtype: torch.dtype) -> float:
    return 255.0 if dtype == torch.uint8 else 1.0


def _ours(op: str, sr: torch.Tensor, hr: torch.Tensor, dtype: torch.dtype):
    data_range = _data_range(dtype)
    if op == "psnr":
        return lambda: metrics.psnr(sr, hr, data_range=data_range)
    if op == "ssim":
        return lambda: metrics.ssim(sr, hr, data_range=data_range)
    return lambda: torch.stack(
        [metrics.psnr(sr, hr, data_range=data_range), metrics.ssim(sr, hr, data_range=data_range)]
    )


def _check(op: str):
    # PSNR: ours and the primary are float64 (agree to ~1e-12 dB), torchmetrics sums in float32
    # (~3e-6 dB): 1e-4 dB. SSIM: the primary and torchmetrics filter in float32 (~1e-6): 1e-4.
    return _harness.assert_close(rtol=0, atol=1e-4)


def _cost(op: str, shape, dtype) -> _roofline.Cost:
    if op == "psnr":
        return _roofline.psnr_cost(shape, dtype)
    if op == "ssim":
        return _roofline.ssim_cost(shape, dtype)
    # Both metrics of one pair: two reads of each image (one per kernel) and both FLOP counts.
    return _roofline.psnr_cost(shape, dtype) + _roofline.ssim_cost(shape, dtype)


def _run(bench, case: _harness.Case) -> None:
    workload = case.workload
    hr, sr = workload.make_pair(case.dtype, case.layout, case.device)
    op = case.op
    # Every side reads the same tensors (uint8, or float32 in [0, 1] with data range 1).
    data_range = _baseline_range(case.dtype)
    expected = _baselines.primary(op, case.device).fn(sr, hr, data_range)
    cost = _cost(op, workload.shape, case.dtype)
    paired = None
    if case.is_ours:
        fn = _ours(op, sr, hr, case.dtype)
        # CPU rows of the target group (both metrics): ours interleaved with every
        # baseline, so that the report gives the ratios (skimage, torchmetrics)
        # measured side by side, not only the primary's. Only there: a round with scikit-image
        # takes seconds, and the other groups' rounds would add ~25 minutes on 2 cores.
        if op == "psnr_ssim":
            paired = _harness.paired_baselines(op, case.device, sr, hr, data_range)
    else:
        baseline = case.baseline
        assert baseline is not None
        fn = lambda: baseline.fn(sr, hr, data_range)  # noqa: E731
    bench(
        case, fn, expected=expected, cost=cost, check=_check(op), trace_op=TRACE[op], paired=paired
    )


def _cases(op: str):
    return _harness.cases(op, _workloads.METRICS, DTYPES, dtypes_by_device=DTYPES_BY_DEVICE)


@pytest.mark.parametrize("case", _cases("psnr"))
def test_psnr(bench, case: _harness.Case) -> None:
    _run(bench, case)


@pytest.mark.parametrize("case", _cases("ssim"))
def test_ssim(bench, case: _harness.Case) -> None:
    _run(bench, case)


@pytest.mark.parametrize("case", _cases("psnr_ssim"))
def test_psnr_ssim(bench, case: _harness.Case) -> None:
    _run(bench, case)
