"""pixel_shuffle: ours (auto and each backend) against ATen's F.pixel_shuffle (+ torch.compile).

A pure permutation: 0 FLOPs, one read and one write of every element, so the roofline is the
copy bandwidth (`_roofline.copy_cost`); GB/s and the fraction of the measured device-to-device
copy rate are in each result's extra_info. Outputs must be bitwise equal to F.pixel_shuffle and
keep the input's memory format.
"""

from __future__ import annotations

import _baselines
import _harness
import _roofline
import _workloads
import pytest
import torch

from sr_kernels import ops

OP = "pixel_shuffle"
DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.uint8)


@pytest.mark.parametrize("case", _harness.cases(OP, _workloads.PIXEL_SHUFFLE, DTYPES))
def test_pixel_shuffle(bench, case: _harness.Case) -> None:
    workload = case.workload
    x = workload.make_input(case.dtype, case.layout, case.device)
    r = workload.r
    expected = _baselines.primary(OP, case.device).fn(x, r)
    fn, paired = _harness.calls(case, ops.pixel_shuffle, x, r)
    cost = _roofline.copy_cost(workload.input_shape, case.dtype)
    bench(case, fn, expected=expected, cost=cost, paired=paired, layout_of=x)
