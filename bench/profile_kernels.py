"""Per-kernel times of the ops with GPU targets, with torch.profiler.

The benchmarks time whole ops; when an op misses its target this says which of its kernels
(e.g. imresize's rows or cols pass, the fused kernel, PSNR's vector or scalar kernel, cuDNN's
gradient convolutions in the residual blocks' training step) takes the time. For each case:
the median wall time per call (the device synchronised around each call), then every kernel
the profiler saw with its calls per op call and mean time, and the achieved GB/s of the op's
minimum traffic (`_roofline`: inputs read once, outputs written once).

    python bench/profile_kernels.py                 # the GPU cases (bench/_workloads.py sizes)
    python bench/profile_kernels.py --device cpu --small   # the same cases, tiny, on CPU
    python bench/profile_kernels.py --only imresize     # or metrics, conv

Run by bench/gpu_validate.sh (stage profile-kernels, on time left over); the table goes to the
stage's log. imresize runs once with the two-pass kernels and once with the fused kernel
(SR_KERNELS_IMRESIZE_FUSED is read at each call).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _roofline  # noqa: E402
import _workloads  # noqa: E402

from sr_kernels import metrics, ops  # noqa: E402
from sr_kernels.ops import _registry  # noqa: E402


@dataclass(frozen=True)
class Case:
    name: str
    run: Callable[[], object]
    cost: _roofline.Cost
    env: tuple[tuple[str, str], ...] = ()


@contextlib.contextmanager
def temporary_environment(pairs: tuple[tuple[str, str], ...]) -> Iterator[None]:
    """Sets the environment variables `pairs` inside the block (our ops read some settings at
    each call) and restores the previous values after it."""
    saved = {key: os.environ.get(key) for key, _ in pairs}
    os.environ.update(dict(pairs))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _shrunk(shape: tuple[int, int, int, int], small: bool) -> tuple[int, int, int, int]:
    # --small: batch 1 and 1/16 of each side (the CPU check of this script, not a measurement)
    n, c, h, w = shape
    return (1, c, max(8, h // 16), max(8, w // 16)) if small else shape


def imresize_cases(device: str, small: bool) -> list[Case]:
    cases = []
    for workload in (_workloads.DIV2K_X4_DOWN_GPU, _workloads.DIV2K_X4_UP_GPU):
        direction = workload.direction
        shape = _shrunk(workload.input_shape, small)
        factor = workload.factor
        for layout in ("nchw", "nhwc"):
            x = _workloads.random_tensor(shape, torch.uint8, layout, device)
            out = ops.imresize(x, factor)
            cost = _roofline.resize_cost(tuple(x.shape), tuple(out.shape), torch.uint8)
            for kernel in ("two-pass", "fused"):
                env = (("SR_KERNELS_IMRESIZE_FUSED", "1" if kernel == "fused" else "0"),)
                name = f"imresize x4 {direction} u8 {layout} {tuple(x.shape)} {kernel}"
                cases.append(Case(name, lambda x=x, f=factor: ops.imresize(x, f), cost, env))
    return cases


def metric_cases(device: str, small: bool) -> list[Case]:
    workload = _workloads.METRICS_B16_1080X1920
    shape = _shrunk(workload.shape, small)
    pair_workload = _workloads.ImagePairWorkload(
        workload.name, workload.devices, workload.note, *shape
    )
    cases = []
    for dtype in (torch.uint8, torch.float32):
        for layout in ("nchw", "nhwc"):
            sr, hr = pair_workload.make_pair(dtype, layout, device)
            data_range = 255.0 if dtype == torch.uint8 else 1.0
            label = f"{_workloads.dtype_name(dtype)} {layout} {shape}"
            cases.append(
                Case(
                    f"psnr {label}",
                    lambda sr=sr, hr=hr, r=data_range: metrics.psnr(sr, hr, data_range=r),
                    _roofline.psnr_cost(shape, dtype),
                )
            )
            cases.append(
                Case(
                    f"ssim {label}",
                    lambda sr=sr, hr=hr, r=data_range: metrics.ssim(sr, hr, data_range=r),
                    _roofline.ssim_cost(shape, dtype),
                )
            )
    return cases


def conv_cases(device: str, small: bool) -> list[Case]:
    """The residual block (bf16, channels_last) forward, ours and eager cuDNN, and the AMP
    training step of a stack of blocks: which kernels (ours, cuDNN's backward) take the time.
    The step runs on both C = 64 workloads: on 48x48 patches the H200 rows took the same time at
    C = 64 and 256 (host-bound); the kernel total against the wall time says how much. The
    functions and parameters are bench_resblock's, so that the profile explains its rows."""
    import bench_resblock as resblock

    cases = []
    for workload in (_workloads.CONV_X4_270X480, _workloads.CONV_EDSR_PATCH_B16_48X48):
        if small:
            n, _, h, w = _shrunk(workload.input_shape, small)
            workload = dataclasses.replace(workload, n=n, h=h, w=w)
        cases += _conv_workload_cases(resblock, workload, device)
    return cases


def _conv_workload_cases(resblock, workload, device: str) -> list[Case]:
    shape = workload.input_shape
    cost = _roofline.resblock_fused_cost(*shape, torch.bfloat16)
    x = workload.make_input(torch.bfloat16, "nhwc", device)
    params = resblock._params(workload, torch.bfloat16, device)
    ours = lambda: ops.residual_block(x, *params, resblock.RES_SCALE)  # noqa: E731
    eager = lambda: resblock._eager(x, *params, resblock.RES_SCALE)  # noqa: E731
    x32 = workload.make_input(torch.float32, "nhwc", device).requires_grad_()
    stack = [
        [t.requires_grad_() for t in resblock._params(workload, torch.float32, device)]
        for _ in range(resblock.STACK)
    ]
    step = resblock._training_step
    label = f"{resblock.STACK} blocks, AMP bf16, {shape}"

    def forced(backend: str) -> Callable[[], object]:
        def run() -> object:
            with ops.use_backend(backend):
                return ops.residual_block(x, *params, resblock.RES_SCALE)

        return run

    # Each GPU backend forced: its kernel time against its wall time is its host time (the
    # H200 rows of 2026-11-29 had Triton's 48 x 48 block at 168 us in bf16 and 199 us in fp16,
    # the same kernel, while both dtypes took 139 us on 270 x 480: a host-time floor?).
    # (On the GPU only: the Triton interpreter has no bfloat16.)
    gpu = device == "cuda"
    backends = [b for b in ("cuda", "triton") if gpu and not _registry.backend_reason(b, device)]
    return [
        Case(f"residual_block bf16 nhwc {shape} ours", ours, cost),
        *(Case(f"residual_block bf16 nhwc {shape} ours:{b}", forced(b), cost) for b in backends),
        Case(f"residual_block bf16 nhwc {shape} eager", eager, cost),
        # The cost is one forward's: a floor only, the step moves more.
        Case(f"training step, {label} ours", lambda: step(ops.residual_block, x32, stack), cost),
        Case(f"training step, {label} eager", lambda: step(resblock._eager, x32, stack), cost),
    ]


def _synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def wall_time(case: Case, device: str, repeats: int) -> float:
    """Median seconds per call."""
    times = []
    for _ in range(repeats):
        _synchronize(device)
        start = time.perf_counter()
        case.run()
        _synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def kernel_rows(case: Case, device: str, repeats: int) -> list[tuple[str, int, float]]:
    """(kernel or op name, calls per op call, mean microseconds per call of it)."""
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(repeats):
            case.run()
        _synchronize(device)
    rows = []
    for event in prof.key_averages():
        if device == "cuda":
            total_us = getattr(event, "device_time_total", 0.0)
            # Kernels only: their own device time is all of it (ops also carry their kernels').
            if total_us <= 0 or getattr(event, "self_device_time_total", 0.0) < total_us:
                continue
        else:
            if not event.key.startswith("sr_kernels::"):
                continue
            total_us = event.cpu_time_total
        rows.append((event.key, event.count // repeats, total_us / event.count))
    return sorted(rows, key=lambda row: -row[1] * row[2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--small", action="store_true", help="tiny shapes (a check, not timing)")
    parser.add_argument(
        "--only", choices=("imresize", "metrics", "conv"), help="one family of cases"
    )
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("profile_kernels: no CUDA GPU visible (use --device cpu --small to check the script)")
        return 2
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    families = {"imresize": imresize_cases, "metrics": metric_cases, "conv": conv_cases}
    chosen = [args.only] if args.only else list(families)
    for family in chosen:
        for case in families[family](args.device, args.small):
            with temporary_environment(case.env):
                case.run()  # warm-up: builds, caches, autotuning
                seconds = wall_time(case, args.device, args.repeats)
                rows = kernel_rows(case, args.device, args.repeats)
            print(
                f"\n{case.name}: {seconds * 1e6:.1f} us per call, "
                f"{_roofline.gbps(case.cost, seconds):.0f} GB/s of its minimum traffic"
            )
            for name, calls, mean_us in rows:
                print(f"    {calls:3d} x {mean_us:10.1f} us  {name[:110]}")
            if args.device == "cuda":  # what the wall time holds besides the kernels
                busy = sum(calls * mean_us for _, calls, mean_us in rows)
                print(
                    f"    kernels: {busy:.1f} us of the {seconds * 1e6:.1f} us per call "
                    f"({100 * busy / (seconds * 1e6):.0f} %); the rest is host time and gaps"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
