"""The benchmark harness behind the `bench` fixture (see bench/README.md for how to use it).

* `cases(op, workloads, dtypes, layouts)` builds the pytest parameters of one benchmark: one
  `Case` per (workload, device, dtype, layout, implementation), skipped with the reason where
  the device, backend or baseline cannot run here.
* `Bench(case, fn, expected=..., cost=...)` runs one case: forces the backend, calls `fn` once
  and checks its output against `expected` BEFORE timing, then times it (GPU: CUDA events via
  `triton.testing.do_bench`, median, L2 flushed; CPU: pytest-benchmark rounds, median) and fills
  `benchmark.extra_info` (time, GB/s or TFLOP/s, fractions of the device peaks, backend that ran,
  device, versions, git SHA, TF32 state).
* CPU only, ``bench(..., paired=...)``: ours and the given baselines are also timed
  interleaved (each called once per round, in a shuffled order), and the speed-up over each is
  recorded from those rounds (extra_info["paired"]). This machine's speed drifts within minutes;
  rows timed one after another (pytest-benchmark's way) can differ by 2x for the same code, while
  interleaved rounds see the same drift on both sides.
* `MiniBenchmark`: a stand-in for pytest-benchmark's fixture where that plugin is not
  installed (the GPU validation machine may lack it); it writes the same JSON layout.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import functools
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _baselines
import _roofline
import _workloads
import pytest
import torch

from sr_kernels import ops
from sr_kernels.ops import _backend_timings, _layout, _registry

REPO = Path(__file__).resolve().parent.parent
OURS = "ours"
AUTO = "auto"
# The backends of ours measured explicitly on each device (besides "auto"). Triton on CPU is
# the interpreter, a testing device: never benchmarked.
DEVICE_BACKENDS = {"cpu": ("cpu", "reference"), "cuda": ("cuda", "triton", "reference")}


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


# Knobs (environment): GPU do_bench repetition time, CPU time per case.
GPU_WARMUP_MS = _env_float("SR_KERNELS_BENCH_WARMUP_MS", 25.0)
GPU_REP_MS = _env_float("SR_KERNELS_BENCH_REP_MS", 100.0)
CPU_TARGET_S = _env_float("SR_KERNELS_BENCH_CPU_TARGET_S", 0.1)
MAX_ROUNDS = 200


def gpu_available() -> bool:
    return torch.cuda.is_available()


def cuda_tiles_label() -> str:
    """The row label part "largest tiles" where SR_KERNELS_CONV_CUDA_TILES=largest makes the CUDA
    residual block and upsampler take the largest tile that fits (the rule before 2026-12-01),
    else "": it keeps the two rules' rows apart."""
    return "largest tiles" if os.environ.get("SR_KERNELS_CONV_CUDA_TILES") == "largest" else ""


# ---------------------------------------------------------------------------------------------
# Cases


@dataclass(frozen=True)
class Case:
    """One row of a benchmark group: an implementation on a workload/dtype/layout/device."""

    op: str
    workload: Any  # a _workloads.Workload
    dtype: torch.dtype
    layout: str
    device: str
    impl: str  # "ours:auto", "ours:<backend>" or a baseline name

    @property
    def group(self) -> str:
        """``op/<workload>/<dtype>/<layout>/<device>`` (the workload's label: imresize adds
        the direction)."""
        return "/".join(
            (
                self.op,
                self.workload.label,
                _workloads.dtype_name(self.dtype),
                self.layout,
                self.device,
            )
        )

    @property
    def is_ours(self) -> bool:
        return self.impl.startswith(OURS + ":")

    @property
    def backend(self) -> str | None:
        """The backend forced for an `ours:<backend>` row (None for auto and baselines)."""
        if not self.is_ours:
            return None
        name = self.impl.split(":", 1)[1]
        return None if name == AUTO else name

    @property
    def baseline(self) -> _baselines.Baseline | None:
        return None if self.is_ours else _baselines.get(self.op, self.impl)

    @property
    def is_primary_baseline(self) -> bool:
        baseline = self.baseline
        return baseline is not None and baseline.primary and self.device in baseline.devices

    @property
    def id(self) -> str:
        return "-".join(
            (
                self.workload.name,
                _workloads.dtype_name(self.dtype),
                self.layout,
                self.device,
                self.impl,
            )
        )


def default_impls(op: str, device: str) -> list[str]:
    """ours:auto, ours:<each backend of the device>, then every baseline of `op`."""
    impls = [f"{OURS}:{AUTO}"] + [f"{OURS}:{b}" for b in DEVICE_BACKENDS[device]]
    return impls + list(_baselines.baselines(op))


def _first_line(text: str, limit: int = 160) -> str:
    """Skip reasons stay one line (a failed extension build's reason is the compiler log)."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit and line == text.strip() else line[:limit] + " ..."


def skip_reason(case: Case) -> str | None:
    """Why `case` cannot run on this machine (None: it can), decided at collection."""
    if case.device == "cuda" and not gpu_available():
        return "needs a CUDA GPU; none is visible on this machine"
    if case.is_ours:
        backend = case.backend
        if backend is not None:
            reason = _registry.backend_reason(backend, case.device)
            if reason:
                return f"backend {backend}: {_first_line(reason)}"
        return None
    baseline = case.baseline
    assert baseline is not None
    return baseline.unavailable_reason(case.device)


def cases(
    op: str,
    workloads: Iterable[Any],
    dtypes: Iterable[torch.dtype],
    layouts: Iterable[str] = _workloads.LAYOUTS,
    impls: Callable[[str, str], list[str]] | None = None,
    devices: Iterable[str] = ("cpu", "cuda"),
    dtypes_by_device: dict[str, tuple[torch.dtype, ...]] | None = None,
) -> list[Any]:
    """pytest params (id = Case.id) for every combination, with skip marks and the `cuda` mark.

    `impls(op, device)` lists the implementations per device (default `default_impls`);
    `dtypes_by_device` narrows the dtypes on one device (e.g. fewer on CPU to keep it quick).
    """
    impls = impls or default_impls
    params = []
    dtypes, layouts = tuple(dtypes), tuple(layouts)
    for device in devices:
        device_dtypes = (dtypes_by_device or {}).get(device, dtypes)
        for workload in workloads:
            if device not in workload.devices:
                continue
            for dtype in device_dtypes:
                for layout in layouts:
                    for impl in impls(op, device):
                        case = Case(op, workload, dtype, layout, device, impl)
                        marks = [pytest.mark.cuda] if device == "cuda" else []
                        reason = skip_reason(case)
                        if reason:
                            marks.append(pytest.mark.skip(reason=reason))
                        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


# ---------------------------------------------------------------------------------------------
# Output checks (run once before timing)


def assert_exact(out: torch.Tensor, expected: torch.Tensor) -> None:
    """Bitwise equal values, same shape and dtype (copies, permutations, integer results)."""
    assert out.shape == expected.shape, f"shape {tuple(out.shape)} != {tuple(expected.shape)}"
    assert out.dtype == expected.dtype, f"dtype {out.dtype} != {expected.dtype}"
    assert torch.equal(out.cpu(), expected.cpu()), "output differs from the baseline"


def assert_close(rtol: float, atol: float) -> Callable[[torch.Tensor, torch.Tensor], None]:
    """A check with `torch.testing.assert_close` tolerances (state the numerics at the call)."""

    def check(out: torch.Tensor, expected: torch.Tensor) -> None:
        torch.testing.assert_close(out, expected, rtol=rtol, atol=atol, check_device=False)

    return check


def assert_input_layout(out: torch.Tensor, x: torch.Tensor) -> None:
    """Our image op's output takes x's memory format (the package's layout rule). Not compared
    with the baseline's: on CUDA eager F.pixel_shuffle returns NCHW even for channels_last input."""
    wanted = _layout.memory_format(x)
    assert out.is_contiguous(memory_format=wanted), (
        f"output strides {out.stride()} are not {wanted}, the input's memory format"
    )


# ---------------------------------------------------------------------------------------------
# Environment recorded with every result


def _run_git(*args: str) -> str:
    try:
        result = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return result.stdout.strip()


@functools.cache
def git_sha() -> str:
    """$SR_KERNELS_GIT_SHA, else `git rev-parse` of the checkout (+dirty), else 'unknown'."""
    env = os.environ.get("SR_KERNELS_GIT_SHA")
    if env:
        return env
    sha = _run_git("rev-parse", "--short=12", "HEAD")
    if not sha:
        return "unknown"
    return sha + ("+dirty" if _run_git("status", "--porcelain", "--untracked-files=no") else "")


def tf32_state() -> dict[str, Any]:
    """TF32 settings in force (benchmarks never change them; they record them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        state: dict[str, Any] = {
            "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
        }
    return state


# glibc's malloc gives freed multi-MB blocks back to the OS (mmap above a threshold it moves as
# the process runs, heap trimming past 128 KiB free), so an op that allocates activation-sized
# outputs page-faults on every call or on none, depending on what ran before it: the same CPU
# residual block measured 17-29 ms from one run to the next. CPU benchmarks keep freed memory in
# the process instead (as jemalloc and tcmalloc do, which PyTorch's CPU tuning guide recommends),
# for ours and the baselines alike, so they time the computation rather than page zeroing.
GLIBC_DEFAULTS_ENV = "SR_KERNELS_BENCH_GLIBC_MALLOC"
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
_MMAP_THRESHOLD = 32 << 20  # glibc's largest on 64-bit: smaller blocks come from the heap
_TRIM_THRESHOLD = 1 << 30
CPU_ALLOCATOR = "not set up (bench/conftest.py calls keep_freed_memory)"


def keep_freed_memory() -> str:
    """Set glibc's malloc to keep freed memory (see above); returns what the allocator does, for
    the results. ``SR_KERNELS_BENCH_GLIBC_MALLOC=1`` keeps glibc's defaults."""
    global CPU_ALLOCATOR
    if os.environ.get(GLIBC_DEFAULTS_ENV) == "1":
        CPU_ALLOCATOR = f"glibc defaults ({GLIBC_DEFAULTS_ENV}=1)"
    elif not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        CPU_ALLOCATOR = "the platform's malloc, defaults (not glibc)"
    else:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
        mmap_ok = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
        if mmap_ok and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD):
            CPU_ALLOCATOR = "glibc, freed memory kept (mmap threshold 32 MiB, trim 1 GiB)"
        else:
            CPU_ALLOCATOR = "glibc defaults (mallopt refused the thresholds)"
    return CPU_ALLOCATOR


@functools.cache
def environment(device: str) -> dict[str, Any]:
    """Device name, versions and git SHA, shared by every result on `device`."""
    try:
        import triton

        triton_version = triton.__version__
    except Exception:  # triton absent or broken: recorded, not fatal
        triton_version = "not importable"
    info = {
        "device_name": _roofline.device_name(device),
        "torch": torch.__version__,
        "triton": triton_version,
        "cuda": torch.version.cuda or "",
        "cudnn": str(torch.backends.cudnn.version() or ""),
        "python": platform.python_version(),
        "git_sha": git_sha(),
        "cpu_threads": torch.get_num_threads(),
        # The tables that order ours:auto's backend choice (sr-kernels tune), if any.
        "backend_timings": ", ".join(_backend_timings.sources()) or "none (fixed order)",
    }
    if device == "cuda":
        capability = torch.cuda.get_device_capability()
        info["capability"] = f"sm_{capability[0]}{capability[1]}"
    else:
        info["cpu_allocator"] = CPU_ALLOCATOR
    return info


# ---------------------------------------------------------------------------------------------
# Timing


def _synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def gpu_median_seconds(fn: Callable[[], Any]) -> float:
    """Median of `fn` by CUDA events with L2 flushed between calls (`triton.testing.do_bench`)."""
    from triton.testing import do_bench

    return float(do_bench(fn, warmup=GPU_WARMUP_MS, rep=GPU_REP_MS, return_mode="median")) / 1e3


def _synced_timer() -> float:
    torch.cuda.synchronize()
    return time.perf_counter()


def _iterations_for(seconds_per_call: float, minimum_s: float) -> int:
    return max(1, math.ceil(minimum_s / max(seconds_per_call, 1e-9)))


def _measure_once(fn: Callable[[], Any], device: str) -> float:
    _synchronize(device)
    start = time.perf_counter()
    fn()
    _synchronize(device)
    return time.perf_counter() - start


def paired_speedups(
    fn: Callable[[], Any],
    baselines: Mapping[str, Callable[[], Any]],
    rounds: int,
    check: Callable[[Any], None] | None = None,
) -> dict[str, dict[str, float]]:
    """Ours and each baseline timed interleaved on the CPU: every round calls each once (k times
    for sub-millisecond calls), in a freshly shuffled order. Per baseline: ``speedup`` = median
    baseline time / median time of ours, and ``q1``/``q3``, the quartiles of the per-round
    ratios (the spread a reader should allow for). `check` (raises AssertionError) is applied
    to each baseline's output of its first call: a ratio over a wrong result means nothing, and
    the baseline's own row, which checks it too, may not be in the same run."""
    calls = {OURS: fn, **baselines}
    iterations = {}
    for key, call in calls.items():
        start = time.perf_counter()
        out = call()
        iterations[key] = _iterations_for(time.perf_counter() - start, 1e-3)
        if check is not None and key != OURS:
            try:
                check(out)
            except AssertionError as error:
                raise AssertionError(f"paired baseline {key!r}: {error}") from None
    times: dict[str, list[float]] = {key: [] for key in calls}
    order = list(calls)
    shuffle = random.Random(0).shuffle  # seeded: reruns use the same orders
    for _ in range(rounds):
        shuffle(order)
        for key in order:
            call, k = calls[key], iterations[key]
            start = time.perf_counter()
            for _ in range(k):
                call()
            times[key].append((time.perf_counter() - start) / k)
    ours = times.pop(OURS)
    result = {}
    for name, baseline_times in times.items():
        ratios = [b / o for b, o in zip(baseline_times, ours, strict=True)]
        q1, _, q3 = statistics.quantiles(ratios, n=4)
        result[name] = {
            "speedup": statistics.median(baseline_times) / statistics.median(ours),
            "q1": q1,
            "q3": q3,
            "rounds": rounds,
        }
    return result


def paired_baselines(
    op: str, device: str, *args: Any, only: Iterable[str] | None = None
) -> dict[str, Callable[[], Any]]:
    """For ``bench(paired=...)``: each baseline of `op` that runs on `device` here (those named
    in `only`, if given), bound to the op's `args`. Empty on the GPU, where nothing is paired."""
    if device != "cpu":
        return {}
    wanted = None if only is None else set(only)
    return {
        name: baseline.bind(*args)
        for name, baseline in _baselines.baselines(op).items()
        if (wanted is None or name in wanted) and baseline.unavailable_reason(device) is None
    }


def calls(
    case: Case, op_fn: Callable[..., Any], *args: Any, paired_only: Iterable[str] | None = None
) -> tuple[Callable[[], Any], dict[str, Callable[[], Any]] | None]:
    """What a row times and what it is paired with: for our rows ``op_fn(*args)`` and, on the
    CPU, the op's baselines bound to the same `args` (`paired_baselines`, those named in
    `paired_only` if given); for a baseline row its own call on `args` and nothing to pair."""
    if case.is_ours:
        paired = paired_baselines(case.op, case.device, *args, only=paired_only)
        return (lambda: op_fn(*args)), paired
    assert case.baseline is not None
    return case.baseline.bind(*args), None


class Bench:
    """The `bench` fixture: ``bench(case, fn, expected=..., cost=...)`` (see module docstring)."""

    def __init__(self, benchmark: Any, config: pytest.Config, results: list[dict[str, Any]]):
        self.benchmark = benchmark
        self.config = config
        self.results = results

    def _min_rounds(self) -> int:
        try:
            return int(self.config.getoption("benchmark_min_rounds"))
        except (ValueError, TypeError):
            return 5

    def __call__(
        self,
        case: Case,
        fn: Callable[[], Any],
        *,
        expected: Any,
        cost: _roofline.Cost,
        check: Callable[[Any, Any], None] = assert_exact,
        trace_op: str | None = None,
        variants: Mapping[str, str] | None = None,
        paired: Mapping[str, Callable[[], Any]] | None = None,
        paired_check: Callable[[Any, Any], None] | None = None,
        layout_of: torch.Tensor | None = None,
    ) -> Any:
        """Check `fn()` against `expected`, time `fn`, record everything; returns fn's output.

        Args:
            case: the parametrized Case (its group becomes the benchmark group).
            fn: zero-argument callable running the implementation once on prepared inputs.
            expected: the primary baseline's output for the same inputs.
            cost: minimum bytes/FLOPs of one call (`_roofline`).
            check: raises AssertionError when the output is wrong (default: bitwise equal).
            trace_op: the op name our backends record in `ops.trace()` (default case.op).
            variants: for our rows, a label per backend that ran (e.g. {"cuda": "fused"}) where
                one backend has several kernels chosen outside the call (an environment
                variable); recorded as extra_info["variant"]. Baselines carry their own.
            paired: baseline name -> zero-argument call on the same inputs, also timed
                interleaved with `fn` (`paired_speedups`), recorded as extra_info["paired"].
                `calls` gives it for our CPU rows only (CUDA events are not subject to the
                CPU's drift).
            paired_check: how the paired baselines' outputs are checked against `expected`
                (default `check`; a baseline that is not exact needs its own).
            layout_of: the op's image input: our rows must return its memory format
                (`assert_input_layout`); baselines keep whatever layout they produce.
        """
        benchmark = self.benchmark
        benchmark.group = case.group
        backend_context = (
            ops.use_backend(case.backend) if case.backend is not None else contextlib.nullcontext()
        )
        with backend_context:
            with ops.trace() as events:
                try:
                    out = fn()
                except ops.BackendUnavailableError as error:
                    pytest.skip(str(error))
            _synchronize(case.device)
            ran = [backend for op, backend in events if op == (trace_op or case.op)]
            if case.is_ours:
                assert ran, f"no sr_kernels backend recorded a {trace_op or case.op} launch"
                if case.backend is not None:
                    assert set(ran) == {case.backend}, f"asked for {case.backend}, ran {ran}"
            check(out, expected)
            if layout_of is not None and case.is_ours:
                assert_input_layout(out, layout_of)
            seconds, timer = self._time(fn, case.device)
            pairs = None
            if paired:
                check_pair = paired_check or check
                pairs = paired_speedups(
                    fn,
                    paired,
                    self._paired_rounds(seconds),
                    check=lambda pair_out: check_pair(pair_out, expected),
                )

        info = benchmark.extra_info
        info.update(
            op=case.op,
            workload=case.workload.label,
            dtype=_workloads.dtype_name(case.dtype),
            layout=case.layout,
            device=case.device,
            impl=case.impl,
            role=OURS if case.is_ours else "baseline",
            primary_baseline=case.is_primary_baseline,
            backend=ran[-1] if ran else case.impl,
            time_s=seconds,
            timer=timer,
            bytes=cost.bytes,
            flops=cost.flops,
            checked_against=_baselines.primary(case.op, case.device).name,
        )
        if pairs:
            info["paired"] = pairs
        variant = (variants or {}).get(info["backend"]) if case.is_ours else None
        if case.baseline is not None:
            variant = case.baseline.variant or None
        if variant:
            info["variant"] = variant
        if cost.bytes:
            info["gbps"] = _roofline.gbps(cost, seconds)
        if cost.flops:
            info["tflops"] = _roofline.tflops(cost, seconds)
        info.update(_roofline.fractions(cost, seconds, case.device))
        info.update(environment(case.device))
        info["tf32"] = tf32_state()
        info["cudnn_benchmark"] = bool(torch.backends.cudnn.benchmark)
        self.results.append(
            {"group": case.group, "name": case.id, "fullname": case.id, "extra_info": info}
        )
        return out

    def _paired_rounds(self, seconds: float) -> int:
        # Each implementation gets about twice a row's CPU time budget; at least
        # --benchmark-min-rounds and 10 rounds (quartiles of fewer ratios say little).
        wanted = math.ceil(2 * CPU_TARGET_S / max(seconds, 1e-9))
        return min(MAX_ROUNDS, max(self._min_rounds(), 10, wanted))

    def _time(self, fn: Callable[[], Any], device: str) -> tuple[float, str]:
        benchmark = self.benchmark
        rounds_min = self._min_rounds()
        if device == "cuda":
            median = gpu_median_seconds(fn)
            # pytest-benchmark's own stats: rounds of k back-to-back calls between synchronised
            # timestamps (so launch overhead is amortised, not the sync latency per call).
            iterations = _iterations_for(median, 1e-3)
            if hasattr(benchmark, "_timer"):
                benchmark._timer = _synced_timer
                target = fn
            else:

                def target() -> None:
                    fn()
                    torch.cuda.synchronize()

            benchmark.pedantic(target, rounds=rounds_min, iterations=iterations, warmup_rounds=1)
            return median, "cuda-events do_bench median (L2 flushed)"
        once = _measure_once(fn, device)
        iterations = _iterations_for(once, 1e-3)
        rounds = min(MAX_ROUNDS, max(rounds_min, math.ceil(CPU_TARGET_S / (once * iterations))))
        benchmark.pedantic(fn, rounds=rounds, iterations=iterations, warmup_rounds=1)
        return float(benchmark.stats.stats.median), "pytest-benchmark median (CPU wall clock)"


# What `describe_plain`'s rows are timed by (the reports mark such GPU rows).
PLAIN_TIMER = "pytest-benchmark median of host-synchronised calls (wall clock, L2 not flushed)"


def describe_plain(
    benchmark: Any, group: str, impl: str, primary_baseline: bool, backend: str | None = None
) -> None:
    """Group and extra_info of a benchmark timed with pytest-benchmark directly (not `Bench`,
    e.g. a training step), so that reports compare it with its baseline; its time is
    pytest-benchmark's median. `impl`: "ours" or the baseline's name; `backend`: the backends
    ours ran (`traced_backends`), else `impl`."""
    op, workload, dtype, layout, device = group.split("/")
    benchmark.group = group
    benchmark.extra_info.update(
        op=op,
        workload=workload,
        dtype=dtype,
        layout=layout,
        device=device,
        impl=impl,
        role=OURS if impl == OURS else "baseline",
        primary_baseline=primary_baseline,
        backend=backend or impl,
        timer=PLAIN_TIMER,
    )
    benchmark.extra_info.update(environment(device))


def traced_backends(op: str, fn: Callable[[], Any]) -> tuple[Any, str]:
    """Run `fn` once and return its result and the backends that served `op` in it ("+"-joined),
    so that a row of ours says which kernels it timed; a call that ran none of ours (the
    automatic choice may route a shape to cuDNN through the reference) says "reference"."""
    with ops.trace() as events:
        result = fn()
    ran = sorted({backend for name, backend in events if name == op})
    if not ran:
        raise AssertionError(f"{op} did not run")
    return result, "+".join(ran)


# ---------------------------------------------------------------------------------------------
# Stand-in for pytest-benchmark (only used when the plugin is not installed)


class _Stats:
    def __init__(self, data: list[float], iterations: int):
        self.data = data
        self.iterations = iterations
        self.median = statistics.median(data)
        self.mean = statistics.fmean(data)
        self.min = min(data)
        self.max = max(data)
        self.stddev = statistics.stdev(data) if len(data) > 1 else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "stddev": self.stddev,
            "median": self.median,
            "rounds": len(self.data),
            "iterations": self.iterations,
            "ops": 1.0 / self.mean if self.mean else 0.0,
        }


class MiniBenchmark:
    """The subset of pytest-benchmark's fixture the harness uses: group, extra_info, pedantic."""

    def __init__(self, node: Any):
        self.name = node.name
        self.fullname = node.nodeid
        self.params = getattr(getattr(node, "callspec", None), "params", None)
        self.group: str | None = None
        self.extra_info: dict[str, Any] = {}
        self.stats: Any = None
        self._timer = time.perf_counter

    def pedantic(
        self,
        target: Callable[..., Any],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        rounds: int = 1,
        warmup_rounds: int = 0,
        iterations: int = 1,
        **_: Any,
    ) -> Any:
        kwargs = kwargs or {}
        for _ in range(warmup_rounds):
            for _ in range(iterations):
                target(*args, **kwargs)
        data = []
        result = None
        for _ in range(rounds):
            start = self._timer()
            for _ in range(iterations):
                result = target(*args, **kwargs)
            data.append((self._timer() - start) / iterations)
        stats = _Stats(data, iterations)
        self.stats = type("Metadata", (), {"stats": stats})()
        return result

    def as_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "name": self.name,
            "fullname": self.fullname,
            "params": None,
            "extra_info": self.extra_info,
            "stats": self.stats.stats.as_dict() if self.stats else None,
        }


class MiniBenchmarkPlugin:
    """Options + fixture + JSON output compatible with `--benchmark-json` of pytest-benchmark."""

    def __init__(self) -> None:
        self.done: list[MiniBenchmark] = []

    @pytest.fixture
    def benchmark(self, request: pytest.FixtureRequest) -> Any:
        fixture = MiniBenchmark(request.node)
        yield fixture
        if fixture.stats is not None:
            self.done.append(fixture)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        path = session.config.getoption("benchmark_json")
        if not path:
            return
        from sr_kernels import benchmarking

        benchmarks = [b.as_json() for b in self.done]
        benchmarking.annotate_speedups(benchmarks)
        output = {
            "machine_info": {"node": platform.node(), "python_version": platform.python_version()},
            "commit_info": {"id": git_sha()},
            "benchmarks": benchmarks,
            "datetime": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "version": "sr_kernels-minibenchmark",
        }
        Path(path).write_text(json.dumps(output, indent=2, default=str))
        print(f"\nwrote {len(benchmarks)} benchmark results to {path}", file=sys.stderr)


def add_minibenchmark_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("benchmark (sr_kernels stand-in: pytest-benchmark not installed)")
    group.addoption("--benchmark-only", action="store_true", help="accepted; no effect")
    group.addoption("--benchmark-json", default=None, help="write results as JSON to this path")
    group.addoption("--benchmark-min-rounds", default=5, type=int, help="rounds per benchmark")
    group.addoption("--benchmark-disable-gc", action="store_true", help="accepted; no effect")
