"""residual_block: ours (auto and each backend) against eager cuDNN and torch.compile max-autotune.

Baselines (registered here): ``eager`` = conv, relu, conv, mul, add with ``F.conv2d`` (cuDNN on
GPU with ``cudnn.benchmark = True``; oneDNN on CPU: the same path as ``nn.Conv2d`` eager, the
CPU target is ours >= 0.95x of it) and ``torch.compile(mode="max-autotune")`` of that function
(GPU); ``nn.Module`` (CPU) = the block as SR models write it with nn layers (body(x) * res_scale,
skip added in place), the CPU target's "plain nn.Conv2d eager" with its module calls. The group
layout is the input's (nhwc = channels_last, the layout models run in). FLOPs and bytes:
`_roofline.resblock_fused_cost` (2 convs, one read + one write); TFLOP/s in extra_info against
the measured bf16 matrix rate. TF32: cuDNN follows ``torch.backends.cudnn.allow_tf32`` (True by
default); our fp32 Triton kernels use tl.dot "tf32x3" (near-fp32 accuracy on tensor cores, about
3x the MMA work of single-pass TF32).

``test_resblock_training_step``: forward + backward of a stack of 4 blocks under AMP (bf16),
ours vs eager, with the peak activation memory of each in extra_info (GPU only).
``test_resblock_host_time``: the same stack on a 1 x 16 x 8 x 8 image, where the time is host
time: ours (automatic, and the extension's op forced) vs eager, on the CPU and the GPU.
"""

from __future__ import annotations

import contextlib
import os

import _baselines
import _harness
import _roofline
import _workloads
import pytest
import torch
import torch.nn.functional as F

from sr_kernels import ops
from sr_kernels.ops import _registry

OP = "residual_block"
DTYPES = (torch.bfloat16, torch.float16, torch.float32)
RES_SCALE = 0.1
torch.backends.cudnn.benchmark = True


def _eager(x, w1, b1, w2, b2, res_scale):
    y = F.conv2d(x, w1, b1, padding=1)
    # In place, as SR models write it (EDSR's nn.ReLU(True)): no extra activation-sized tensor.
    y = F.relu(y, inplace=True)
    y = F.conv2d(y, w2, b2, padding=1)
    return x + y * res_scale


_baselines.register(
    OP, _baselines.Baseline("eager", _eager, primary=True, note="F.conv2d/relu/mul/add")
)
_baselines.register(OP, _baselines.max_autotune(_eager, "the eager function"))


class _ResBlock(torch.nn.Module):
    """The block as SR models write it with nn layers: body(x) * res_scale, skip added in place."""

    def __init__(self, w1, b1, w2, b2, res_scale):
        super().__init__()
        conv1, conv2 = _baselines.conv2d_module(w1, b1), _baselines.conv2d_module(w2, b2)
        self.body = torch.nn.Sequential(conv1, torch.nn.ReLU(inplace=True), conv2)
        self.res_scale = res_scale

    def forward(self, x):
        residual = self.body(x).mul(self.res_scale)
        residual += x
        return residual


def _block(x, w1, b1, w2, b2, res_scale):
    block = _ResBlock(w1, b1, w2, b2, res_scale)
    return lambda: block(x)


_baselines.register(
    OP, _baselines.nn_modules(_block, "nn.Sequential(nn.Conv2d, nn.ReLU, nn.Conv2d), mul, +=")
)

# Relative tolerances of the output check (fp32 accumulation everywhere; eager rounds the
# intermediate and each pointwise step to the storage dtype, the fused kernel only the ReLU
# intermediate and the output; fp32 may be TF32 on both sides).
_TOLERANCE = {torch.bfloat16: 3e-2, torch.float16: 5e-3, torch.float32: 5e-3}


def _params(workload, dtype, device, layout="nhwc"):
    w1 = workload.make_weight(dtype, device, seed=1)
    w2 = workload.make_weight(dtype, device, seed=2)
    b1 = (torch.rand(workload.c_out, generator=torch.Generator().manual_seed(3)) - 0.5).to(
        dtype=dtype, device=device
    )
    b2 = (torch.rand(workload.c_out, generator=torch.Generator().manual_seed(4)) - 0.5).to(
        dtype=dtype, device=device
    )
    # GPU models in channels_last keep their parameters channels_last too; in the nchw groups
    # the weights stay NCHW, or cuDNN would compute eager's convolutions in NHWC.
    if device == "cuda" and layout == "nhwc":
        w1, w2 = (w.contiguous(memory_format=torch.channels_last) for w in (w1, w2))
    return w1, b1, w2, b2


def _variants() -> dict[str, str]:
    # The CUDA kernel's configuration for C <= 128 is chosen per call by
    # SR_KERNELS_RESBLOCK_CUDA_WARPS (unset or 8: one 8-warp block per SM; 4: two 4-warp blocks
    # per SM where they fit) and SR_KERNELS_CUDA_WGMMA (1: warpgroup MMA on Hopper), its tile by
    # SR_KERNELS_CONV_CUDA_TILES (largest: the largest that fits, the rule before 2026-12-01):
    # label the rows so that runs with different settings stay apart.
    warps = "4" if os.environ.get("SR_KERNELS_RESBLOCK_CUDA_WARPS") == "4" else "8"
    wgmma = "wgmma" if os.environ.get("SR_KERNELS_CUDA_WGMMA") == "1" else ""
    parts = [f"warps={warps}", wgmma, _harness.cuda_tiles_label()]
    return {"cuda": ", ".join(part for part in parts if part)}


@pytest.mark.parametrize(
    "case",
    _harness.cases(
        OP,
        _workloads.CONV,
        DTYPES,
        dtypes_by_device={"cpu": (torch.float32,)},
    ),
)
def test_residual_block(bench, case: _harness.Case) -> None:
    workload = case.workload
    x = workload.make_input(case.dtype, case.layout, case.device)
    w1, b1, w2, b2 = _params(workload, case.dtype, case.device, case.layout)
    with torch.no_grad():
        expected = _eager(x, w1, b1, w2, b2, RES_SCALE)
        fn, paired = _harness.calls(case, ops.residual_block, x, w1, b1, w2, b2, RES_SCALE)
        tol = _TOLERANCE[case.dtype]
        bench(
            case,
            fn,
            expected=expected,
            cost=_roofline.resblock_fused_cost(
                workload.n, workload.c_out, workload.h, workload.w, case.dtype
            ),
            check=_harness.assert_close(rtol=tol, atol=tol),
            variants=_variants() if case.device == "cuda" else None,
            paired=paired,
            layout_of=x,
        )


# ---------------------------------------------------------------------------------------------
# Training step: a stack of blocks, forward + backward under AMP.

STACK = 4


def _stack(block, x, params):
    for w1, b1, w2, b2 in params:
        x = block(x, w1, b1, w2, b2, RES_SCALE)
    return x


def _training_step(block, x, params):
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = _stack(block, x, params)
    # Every block's weights and biases, as a training step needs (the input's gradient is
    # what the benchmark checks).
    weights = [t for block_params in params for t in block_params]
    grads = torch.autograd.grad(out.float().square().mean(), [x, *weights])
    return grads[0]


def _eager_half_stream(x, w1, b1, w2, b2, res_scale):
    # Eager with the residual stream in the autocast dtype, as ours keeps it (eager's `x + y`
    # keeps a float32 x in float32): tells the memory that recomputing the intermediate saves
    # from the memory the narrower stream saves.
    return _eager(x.to(torch.get_autocast_dtype("cuda")), w1, b1, w2, b2, res_scale)


TRAINING_BLOCKS = {
    "ours": ops.residual_block,
    "eager": _eager,
    "eager-bf16-stream": _eager_half_stream,
}


@pytest.mark.cuda
@pytest.mark.parametrize("workload", _workloads.on("cuda", _workloads.CONV), ids=lambda w: w.name)
@pytest.mark.parametrize("impl", list(TRAINING_BLOCKS))
def test_resblock_training_step(benchmark, workload, impl) -> None:
    if not _harness.gpu_available():
        pytest.skip("needs a CUDA GPU; none is visible on this machine")
    device = "cuda"
    x = workload.make_input(torch.float32, "nhwc", device).requires_grad_()
    params = [
        [t.requires_grad_() for t in _params(workload, torch.float32, device)] for _ in range(STACK)
    ]
    # Our op casts under autocast as F.conv2d does; its output (skip included) is in the
    # autocast dtype, where eager's `x + y` keeps a float32 x in float32.
    block = TRAINING_BLOCKS[impl]
    expected = _training_step(_eager, x, params)
    backend = None
    if impl == "ours":  # the row names the backends it times
        out, backend = _harness.traced_backends(
            "residual_block", lambda: _training_step(block, x, params)
        )
    else:
        out = _training_step(block, x, params)
    torch.testing.assert_close(out, expected, rtol=5e-2, atol=5e-2)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        y = _stack(block, x, params)
    kept_bytes = torch.cuda.memory_allocated() - base  # saved for backward, and the output
    peak_bytes = torch.cuda.max_memory_allocated() - base  # with temporaries and workspaces
    del y
    group = f"resblock_train_step/{workload.name}/amp_bf16/nhwc/cuda"
    _harness.describe_plain(
        benchmark, group, impl, primary_baseline=impl == "eager", backend=backend
    )
    benchmark.extra_info["activation_bytes_kept"] = kept_bytes
    benchmark.extra_info["activation_bytes_forward"] = peak_bytes
    benchmark.extra_info["blocks"] = STACK

    def run():
        _training_step(block, x, params)
        torch.cuda.synchronize()

    benchmark.pedantic(run, warmup_rounds=3, rounds=20)


# ---------------------------------------------------------------------------------------------
# Host time: forward + backward of the same stack of blocks on an image so small that the device
# work is negligible, so that the time is what the host spends issuing it (Python, dispatch,
# autograd). The AMP training step above is bound by it at C = 64 on 48x48 patches (eager took
# 3.28 ms at C = 64 and 3.40 ms at C = 256 there, H200, 2026-11-29): these rows say how much of
# a step our op's host path costs against eager's five ops.

HOST_WORKLOAD = "host_b1_16x8x8"
HOST_IMPLS = ("ours", "ours:extension", "eager")


@pytest.mark.parametrize("impl", HOST_IMPLS)
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_resblock_host_time(benchmark, device, impl) -> None:
    if device == "cuda" and not _harness.gpu_available():
        pytest.skip("needs a CUDA GPU; none is visible on this machine")
    backend = "cuda" if device == "cuda" else "cpu"
    if impl == "ours:extension" and (reason := _registry.backend_reason(backend, device)):
        pytest.skip(f"{backend}: {reason}")
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(1, 16, 8, 8, generator=gen).to(dtype=dtype, device=device)
    x = x.contiguous(memory_format=torch.channels_last).requires_grad_()
    params = []
    for _ in range(STACK):
        w1, w2 = (torch.randn(16, 16, 3, 3, generator=gen) * 0.08 for _ in range(2))
        b1, b2 = (torch.rand(16, generator=gen) - 0.5 for _ in range(2))
        w1, w2 = (w.contiguous(memory_format=torch.channels_last) for w in (w1, w2))
        tensors = [t.to(dtype=dtype, device=device) for t in (w1, b1, w2, b2)]
        params.append([t.requires_grad_() for t in tensors])
    block = _eager if impl == "eager" else ops.residual_block

    # "ours": the automatic choice (on the CPU: the reference); "ours:extension": the compiled
    # extension's op, chosen once for the whole step as a user would.
    def forced():
        return ops.use_backend(backend) if impl == "ours:extension" else contextlib.nullcontext()

    def step():
        with forced():
            out = _stack(block, x, params)
        grads = torch.autograd.grad(out.float().square().mean(), [x, *params[0]])
        if device == "cuda":
            torch.cuda.synchronize()
        return grads

    expected = torch.autograd.grad(_stack(_eager, x, params).float().square().mean(), [x])[0]
    tol = _TOLERANCE[dtype]
    torch.testing.assert_close(step()[0], expected, rtol=tol, atol=tol)
    label = "ours" if impl.startswith("ours") else impl
    group = f"resblock_host/{HOST_WORKLOAD}/{_workloads.dtype_name(dtype)}/nhwc/{device}"
    _harness.describe_plain(benchmark, group, label, primary_baseline=impl == "eager")
    benchmark.extra_info["impl"] = impl  # "ours" (automatic) or "ours:extension" (forced)
    benchmark.extra_info["blocks"] = STACK
    benchmark.pedantic(step, warmup_rounds=20, rounds=200)
