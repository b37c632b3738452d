"""conv_pixel_shuffle (the EDSR upsampler): ours against eager conv + F.pixel_shuffle.

The x2 stage is conv 64 -> 256 + shuffle on the body's output (workloads of `_workloads.CONV`:
C = 64 and 256 inputs); x4 is two x2 stages (`test_upsampler_x4`). Baselines (registered
here): ``eager`` = ``F.conv2d`` + ``F.pixel_shuffle`` in the group's layout (cuDNN with
``cudnn.benchmark``), primary; ``torch.compile`` of it (GPU); ``nn.Module`` (CPU) =
``nn.Sequential(nn.Conv2d, nn.PixelShuffle)`` with the same weights (the CPU target's "plain
nn.Conv2d eager"). Cost: `_roofline.conv2d_cost` of the C -> 4*64 convolution (the shuffle
moves no extra bytes in the fused kernel).
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

OP = "conv_pixel_shuffle"
DTYPES = (torch.bfloat16, torch.float16, torch.float32)
OUT_CHANNELS = 64
R = 2
torch.backends.cudnn.benchmark = True


def _eager(x, w, b, r):
    return F.pixel_shuffle(F.conv2d(x, w, b, padding=1), r)


_baselines.register(
    OP, _baselines.Baseline("eager", _eager, primary=True, note="F.conv2d + F.pixel_shuffle")
)
_baselines.register(OP, _baselines.max_autotune(_eager, "conv + pixel_shuffle"))


def _upsampler(x, w, b, r):
    stage = torch.nn.Sequential(_baselines.conv2d_module(w, b), torch.nn.PixelShuffle(r))
    return lambda: stage(x)


_baselines.register(
    OP, _baselines.nn_modules(_upsampler, "nn.Sequential(nn.Conv2d, nn.PixelShuffle)")
)
_TOLERANCE = {torch.bfloat16: 3e-2, torch.float16: 5e-3, torch.float32: 5e-3}


def _params(c_in, dtype, device, seed=1, layout="nhwc"):
    gen = torch.Generator().manual_seed(seed)
    c_out = OUT_CHANNELS * R * R
    bound = (1.0 / (9 * c_in)) ** 0.5
    w = ((torch.rand(c_out, c_in, 3, 3, generator=gen) * 2 - 1) * bound).to(dtype=dtype)
    b = (torch.rand(c_out, generator=gen) - 0.5).to(dtype=dtype)
    w = w.to(device)
    # As in bench_resblock: GPU models in channels_last keep their parameters channels_last (NCHW
    # weights in the nchw groups); on CPU a plain nn.Conv2d's weight.
    if device == "cuda" and layout == "nhwc":
        w = w.contiguous(memory_format=torch.channels_last)
    return w, b.to(device)


def _variants() -> dict[str, str] | None:
    # The CUDA kernel's tile rule (SR_KERNELS_CONV_CUDA_TILES): rows of the old one stay apart.
    label = _harness.cuda_tiles_label()
    return {"cuda": label} if label else None


@pytest.mark.parametrize(
    "case",
    _harness.cases(OP, _workloads.CONV, DTYPES, dtypes_by_device={"cpu": (torch.float32,)}),
)
def test_conv_pixel_shuffle(bench, case: _harness.Case) -> None:
    workload = case.workload
    x = workload.make_input(case.dtype, case.layout, case.device)
    w, b = _params(workload.c_in, case.dtype, case.device, layout=case.layout)
    with torch.no_grad():
        expected = _eager(x, w, b, R)
        fn, paired = _harness.calls(case, ops.conv_pixel_shuffle, x, w, b, R)
        tol = _TOLERANCE[case.dtype]
        cost = _roofline.conv2d_cost(
            workload.n, workload.c_in, w.shape[0], workload.h, workload.w, case.dtype
        )
        bench(
            case,
            fn,
            expected=expected,
            cost=cost,
            check=_harness.assert_close(tol, tol),
            variants=_variants() if case.device == "cuda" else None,
            paired=paired,
            layout_of=x,
        )


@pytest.mark.cuda
@pytest.mark.parametrize("impl", ["ours", "eager"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_upsampler_x4(benchmark, impl, dtype) -> None:
    """EDSR-baseline x4 upsampler: two (conv 64 -> 256 + shuffle x2) stages, 270x480 input."""
    if not _harness.gpu_available():
        pytest.skip("needs a CUDA GPU; none is visible on this machine")
    workload = _workloads.CONV_X4_270X480
    x = workload.make_input(dtype, "nhwc", "cuda")
    stages = [_params(OUT_CHANNELS, dtype, "cuda", seed=s) for s in (1, 2)]
    run_stage = ops.conv_pixel_shuffle if impl == "ours" else _eager

    def upsample():
        y = x
        for w, b in stages:
            y = run_stage(y, w, b, R)
        return y

    with torch.no_grad():
        expected = x
        for w, b in stages:
            expected = _eager(expected, w, b, R)
        backend = None
        if impl == "ours":  # the row names the backends it times
            out, backend = _harness.traced_backends("conv_pixel_shuffle", upsample)
        else:
            out = upsample()
        torch.testing.assert_close(out, expected, rtol=3e-2, atol=3e-2)

        def run():
            upsample()
            torch.cuda.synchronize()

        group = f"upsampler_x4/{workload.name}/{_workloads.dtype_name(dtype)}/nhwc/cuda"
        _harness.describe_plain(
            benchmark, group, impl, primary_baseline=impl == "eager", backend=backend
        )
        benchmark.pedantic(run, warmup_rounds=3, rounds=30)
