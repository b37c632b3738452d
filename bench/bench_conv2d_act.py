"""conv2d_act (SRCNN's layers, EDSR's head and tail): ours against eager ``nn.Conv2d``-style ops.

Workloads: `_workloads.CONV2D_ACT` (SRCNN 9-5-5 on 33x33 Y patches with replicate padding and
ReLU on the first two layers; the EDSR-baseline head 3 -> 64 and x4 tail 64 -> 3 with zero
padding, no activation). Baselines (registered here): ``eager`` = ``F.conv2d`` (after
``F.pad(mode="replicate")`` for replicate padding, as ``nn.Conv2d(padding_mode="replicate")``)
+ ``F.relu``, primary (cuDNN with ``cudnn.benchmark`` on GPU, oneDNN on CPU: our CPU path is the
same maths, the CPU target is >= 0.95x); ``torch.compile`` of it (GPU); ``nn.Module`` (CPU) =
the layer as a model holds it, ``nn.Conv2d`` [+ ``nn.ReLU``] with the same weights: issue 5 states
the CPU target against plain nn.Conv2d eager, module calls included. Weights as a model keeps
them: channels_last on the GPU, nn.Conv2d's layout on the CPU. Cost: `_roofline.conv2d_cost`.
"""

from __future__ import annotations

import _baselines
import _harness
import _roofline
import _workloads
import pytest
import torch
import torch.nn.functional as F

from sr_kernels import ops

OP = "conv2d_act"
DTYPES = (torch.bfloat16, torch.float16, torch.float32)
torch.backends.cudnn.benchmark = True

# (padding_mode, activation) per workload.
LAYERS = {
    "srcnn_l1_9x9_b128_33x33": ("replicate", "relu"),
    "srcnn_l2_5x5_b128_33x33": ("replicate", "relu"),
    "srcnn_l3_5x5_b128_33x33": ("replicate", "none"),
    "edsr_head_b16_48x48": ("zeros", "none"),
    "edsr_tail_x4_1080x1920": ("zeros", "none"),
}


def _eager(x, w, b, padding_mode, activation):
    pad = w.shape[-1] // 2
    if padding_mode == "replicate":
        y = F.conv2d(F.pad(x, (pad, pad, pad, pad), mode="replicate"), w, b)
    else:
        y = F.conv2d(x, w, b, padding=pad)
    # In place, as nn.ReLU(inplace=True) in SRCNN/EDSR code: an out-of-place ReLU's extra
    # activation-sized output made this baseline ~1.3x slower than the nn.Module row on CPU.
    return F.relu(y, inplace=True) if activation == "relu" else y


_baselines.register(
    OP, _baselines.Baseline("eager", _eager, primary=True, note="[F.pad] + F.conv2d + F.relu")
)
_baselines.register(OP, _baselines.max_autotune(_eager, "the eager function"))


def _layer(x, w, b, padding_mode, activation):
    conv = _baselines.conv2d_module(w, b, padding_mode)
    layer = torch.nn.Sequential(conv, torch.nn.ReLU(inplace=True)) if activation == "relu" else conv
    return lambda: layer(x)


_baselines.register(
    OP, _baselines.nn_modules(_layer, "nn.Conv2d(padding_mode=...) [+ nn.ReLU(inplace=True)]")
)
_TOLERANCE = {torch.bfloat16: 3e-2, torch.float16: 5e-3, torch.float32: 5e-3}


def _impls(op: str, device: str) -> list[str]:
    # CPU: "ours:auto" is the reference (F.conv2d); there is no C++ CPU kernel for this op.
    return [i for i in _harness.default_impls(op, device) if i != "ours:cpu"]


@pytest.mark.parametrize(
    "case",
    _harness.cases(
        OP,
        _workloads.CONV2D_ACT,
        DTYPES,
        impls=_impls,
        dtypes_by_device={"cpu": (torch.float32,)},
    ),
)
def test_conv2d_act(bench, case: _harness.Case) -> None:
    workload = case.workload
    padding_mode, activation = LAYERS[workload.name]
    x = workload.make_input(case.dtype, case.layout, case.device)
    w = workload.make_weight(case.dtype, case.device)
    if case.device == "cuda" and case.layout == "nhwc":  # NCHW weights in the nchw groups
        w = w.contiguous(memory_format=torch.channels_last)
    b = (torch.rand(workload.c_out, generator=torch.Generator().manual_seed(3)) - 0.5).to(
        dtype=case.dtype, device=case.device
    )
    with torch.no_grad():
        expected = _eager(x, w, b, padding_mode, activation)
        fn, paired = _harness.calls(case, ops.conv2d_act, x, w, b, padding_mode, activation)
        tol = _TOLERANCE[case.dtype]
        cost = _roofline.conv2d_cost(
            workload.n, workload.c_in, workload.c_out, workload.h, workload.w, case.dtype,
            k=workload.k,
        )  # fmt: skip
        bench(
            case,
            fn,
            expected=expected,
            cost=cost,
            check=_harness.assert_close(tol, tol),
            paired=paired,
            layout_of=x,
        )
