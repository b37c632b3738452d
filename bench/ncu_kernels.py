"""Hardware counters of our kernels (Nsight Compute): where their time goes.

The benchmarks time each implementation, and neither their times nor the static SASS say what
holds a kernel back (latency of shared-memory or global loads, barriers, issue slots,
occupancy). This profiles one call of each implementation of a suite under `ncu` and prints,
per kernel: its time, SM and memory throughput (% of peak), the tensor pipe's activity,
issue-slot use, achieved occupancy, registers, and the warp stall reasons that cost the most
cycles.

    python bench/ncu_kernels.py --out-dir DIR                    # suite resblock
    python bench/ncu_kernels.py --out-dir DIR --workloads edsr_patch_b16_48x48 --dtypes float16
    python bench/ncu_kernels.py --out-dir DIR --suite streaming

Suites:
  resblock   the residual block (H200, 2026-11-29: our CUDA block at 12 % and our Triton block
             at 17 % of the measured bf16 matrix rate): ours:cuda with
             SR_KERNELS_RESBLOCK_CUDA_WARPS 8 and 4 (residual_block.cu's two configurations for
             C <= 128) and with SR_KERNELS_CUDA_WGMMA=1 (its wgmma form), ours:triton, and eager
             (cuDNN with cudnn.benchmark on; conv, relu, conv, mul, add), all channels_last;
             --workloads / --dtypes pick the cases (x4_270x480_to_1080p, bfloat16 by default).
  streaming  the kernels with bandwidth targets that missed them on the H200 (2026-11-29):
             the fused imresize kernel, x4 down and up of 16 DIV2K-size uint8 images (4-11 %
             of the copy bandwidth; the issue asks 75 %), and PSNR of 16 uint8 1080p pairs
             (48-56 %; the issue asks 80 %), NCHW and NHWC: bench/profile_kernels.py's cases.
Each implementation or case is one NVTX range whose name labels its kernels. Every one is
called a few times first (Triton compiles, cuDNN autotunes), and only the last call is
profiled (cudaProfilerStart / Stop around it).

Writes DIR/ncu-<suite>.ncu-rep (the whole report, for the Nsight Compute GUI),
DIR/ncu-<suite>.csv (every metric of every kernel: `ncu --import --page raw --csv`) and
DIR/ncu-<suite>.md (the table, also printed). bench/gpu_validate.sh runs the suites as its
stages ncu-resblock and ncu-streaming; the report's .md includes the tables.
Needs a CUDA GPU and an ncu that can read the counters (on this workplace's machines: the
Firecracker ones, not gVisor). The clocks are left alone (--clock-control none), as the
benchmarks see them; the counters need several replays of each kernel, so the times in the
table are ncu's, not the benchmarks'. Exit status: 0; 1 when ncu failed or profiled no kernel;
2 when there is no GPU or no ncu, or the arguments are wrong.
"""

from __future__ import annotations

import argparse
import csv
import glob
import io
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SUITES = ("resblock", "streaming")
# ncu's section identifiers (`ncu --list-sections`): the counters behind the columns below.
SECTIONS = (
    "SpeedOfLight",
    "ComputeWorkloadAnalysis",
    "MemoryWorkloadAnalysis",
    "Occupancy",
    "LaunchStats",
    "SchedulerStats",
    "WarpStateStats",
)
IMPLS = ("ours:cuda warps=8", "ours:cuda warps=4", "ours:cuda wgmma", "ours:triton", "eager")
DEFAULT_WORKLOADS = ("x4_270x480_to_1080p",)
DEFAULT_DTYPES = ("bfloat16",)
WARMUP_CALLS = 3
RES_SCALE = 0.1  # as bench_resblock.py
TOP_STALLS = 4

# Summary columns: (heading, patterns of raw metric names, first match wins). Names differ a
# little between ncu versions and architectures, hence patterns; a column with no match is "-".
COLUMNS = (
    ("time (us)", (r"^gpu__time_duration\.sum$",)),
    ("SM %", (r"^sm__throughput\.avg\.pct_of_peak_sustained_elapsed$",)),
    ("memory %", (r"^gpu__compute_memory_throughput\.avg\.pct_of_peak_sustained_elapsed$",)),
    ("DRAM %", (r"^(gpu__)?dram__throughput\.avg\.pct_of_peak_sustained_elapsed$",)),
    (
        "tensor %",
        (
            r"^sm__pipe_tensor_op_(hmma|gmma)_cycles_active\.avg\.pct_of_peak_sustained_active$",
            r"^sm__pipe_tensor.*cycles_active.*pct_of_peak_sustained_active$",
            r"^sm__inst_executed_pipe_tensor.*pct_of_peak_sustained_active$",
        ),
    ),
    ("issue %", (r"^sm__inst_issued\.avg\.pct_of_peak_sustained_active$",)),
    ("occupancy %", (r"^sm__warps_active\.avg\.pct_of_peak_sustained_active$",)),
    ("registers", (r"^launch__registers_per_thread$",)),
)
# Warp stall reasons: cycles a warp spends stalled for the reason, per issued instruction.
STALL = re.compile(r"^smsp__average_warps?_issue_stalled_(\w+?)_per_issue_active\.ratio$")


@dataclass
class Kernel:
    """One profiled kernel launch: its identity and its raw metrics (name -> value)."""

    label: str  # the NVTX range (implementation, workload, dtype), or "" when unknown
    name: str
    metrics: dict[str, str] = field(default_factory=dict)


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def read_raw_csv(text: str) -> tuple[list[dict[str, str]], dict[str, str]]:
    """The rows of `ncu --page raw --csv` (one per kernel) and the units row, if any.

    The table's first line names the columns (ID, Kernel Name, ..., then one metric per
    column); the line after it gives the metrics' units (empty ID) in the versions that print
    one. Lines before the header (ncu's own messages: ==PROF== ...) are skipped.
    """
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith('"ID"')), None)
    if start is None:
        return [], {}
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[start:]))))
    units: dict[str, str] = {}
    if rows and not rows[0].get("ID", "").strip():
        units = rows.pop(0)
    return [row for row in rows if row.get("ID", "").strip()], units


def kernels_from_csv(raw: str, renamed: str | None) -> list[Kernel]:
    """Kernels of the raw CSV; `renamed` is the same page printed with --print-nvtx-rename kernel
    (kernel names replaced by their NVTX range), read for the labels when it has as many rows."""
    rows, _ = read_raw_csv(raw)
    labels = [""] * len(rows)
    if renamed is not None:
        renamed_rows, _ = read_raw_csv(renamed)
        if len(renamed_rows) == len(rows):
            labels = [row.get("Kernel Name", "") for row in renamed_rows]
    return [
        Kernel(label=label, name=row.get("Kernel Name", ""), metrics=row)
        for label, row in zip(labels, rows, strict=True)
    ]


def _pick(metrics: dict[str, str], patterns: Sequence[str]) -> float | None:
    for pattern in patterns:
        regex = re.compile(pattern)
        for name, value in metrics.items():
            if regex.match(name):
                number = _number(value)
                if number is not None:
                    return number
    return None


def stalls(metrics: dict[str, str], top: int = TOP_STALLS) -> list[tuple[str, float]]:
    """The `top` stall reasons by cycles per issued instruction, largest first (zeros left out)."""
    found = []
    for name, value in metrics.items():
        match = STALL.match(name)
        number = _number(value) if match else None
        if match and number:
            found.append((match.group(1), number))
    return sorted(found, key=lambda item: -item[1])[:top]


def short_kernel_name(name: str, width: int = 100) -> str:
    """The kernel's name without its argument list, cut to `width` characters."""
    depth, cut = 0, len(name)
    for i, char in enumerate(name):
        if char == "<":
            depth += 1
        elif char == ">":
            depth -= 1
        elif char == "(" and depth == 0:
            cut = i
            break
    name = name[:cut].strip()
    return name if len(name) <= width else name[: width - 3] + "..."


def _format(value: float | None, heading: str) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if heading == "registers" else f"{value:.1f}"


def markdown(kernels: Sequence[Kernel], time_scale: float) -> str:
    """The summary table; `time_scale` turns gpu__time_duration's unit into microseconds."""
    head = ["implementation", "kernel", *(heading for heading, _ in COLUMNS), "top stalls"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for kernel in kernels:
        cells = [kernel.label or "?", f"`{short_kernel_name(kernel.name)}`"]
        for heading, patterns in COLUMNS:
            value = _pick(kernel.metrics, patterns)
            if value is not None and heading.startswith("time"):
                value *= time_scale
            cells.append(_format(value, heading))
        reasons = ", ".join(f"{reason} {cycles:.1f}" for reason, cycles in stalls(kernel.metrics))
        cells.append(reasons or "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def time_scale_to_us(units: dict[str, str]) -> float:
    """Microseconds per unit of gpu__time_duration.sum (ncu prints ns, usecond or msecond)."""
    unit = units.get("gpu__time_duration.sum", "nsecond").strip().lower()
    return {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3}.get(
        unit, 1e-3
    )


# ---------------------------------------------------------------------------------------------
# The profiled program (run by ncu as `ncu_kernels.py --child ...`).

# A profiled call: its label (the NVTX range), the call, and environment variables set around
# it (settings our ops read at each call).
Call = tuple[str, Callable[[], object], tuple[tuple[str, str], ...]]


def _resblock_calls(workloads: Sequence[str], dtypes: Sequence[str]) -> list[Call]:
    import _workloads
    import torch
    import torch.nn.functional as F

    from sr_kernels import ops

    torch.backends.cudnn.benchmark = True
    by_name = {w.name: w for w in _workloads.CONV}

    def eager(x, w1, b1, w2, b2):  # noqa: ANN001, ANN202
        y = F.relu(F.conv2d(x, w1, b1, padding=1), inplace=True)  # as bench_resblock's eager
        y = F.conv2d(y, w2, b2, padding=1)
        return x + y * RES_SCALE

    def ours(backend: str):  # noqa: ANN202
        def run(x, w1, b1, w2, b2):  # noqa: ANN001, ANN202
            with ops.use_backend(backend):
                return ops.residual_block(x, w1, b1, w2, b2, RES_SCALE)

        return run

    # The CUDA block's configuration settings (read at each call).
    def cuda_settings(warps: str, wgmma: str) -> tuple[tuple[str, str], ...]:
        return (("SR_KERNELS_RESBLOCK_CUDA_WARPS", warps), ("SR_KERNELS_CUDA_WGMMA", wgmma))

    impls = {
        "ours:cuda warps=8": (ours("cuda"), cuda_settings("8", "0")),
        "ours:cuda warps=4": (ours("cuda"), cuda_settings("4", "0")),
        "ours:cuda wgmma": (ours("cuda"), cuda_settings("8", "1")),
        "ours:triton": (ours("triton"), ()),
        "eager": (eager, ()),
    }
    assert tuple(impls) == IMPLS
    calls: list[Call] = []
    for workload_name in workloads:
        workload = by_name[workload_name]
        for dtype_name in dtypes:
            dtype = getattr(torch, dtype_name)
            x = workload.make_input(dtype, "nhwc", "cuda")
            w1, w2 = (workload.make_weight(dtype, "cuda", seed=s) for s in (1, 2))
            w1, w2 = (w.contiguous(memory_format=torch.channels_last) for w in (w1, w2))
            b1 = (torch.rand(workload.c_out, device="cuda") - 0.5).to(dtype)
            b2 = (torch.rand(workload.c_out, device="cuda") - 0.5).to(dtype)
            for impl, (fn, env) in impls.items():
                label = f"{impl} {workload_name} {dtype_name}"
                calls.append((label, lambda fn=fn, args=(x, w1, b1, w2, b2): fn(*args), env))
    return calls


def streaming_calls(device: str = "cuda", small: bool = False) -> list[Call]:
    """The streaming suite: profile_kernels.py's fused imresize and uint8 PSNR cases (`small`:
    its tiny CPU versions, for the CPU test of this list)."""
    import profile_kernels

    cases = [
        case
        for case in profile_kernels.imresize_cases(device, small)
        if case.name.endswith(" fused")
    ]
    cases += [
        case
        for case in profile_kernels.metric_cases(device, small)
        if case.name.startswith("psnr u8 ")
    ]
    return [(case.name, case.run, case.env) for case in cases]


def _child(suite: str, workloads: Sequence[str], dtypes: Sequence[str]) -> int:
    import torch

    sys.path.insert(0, str(BENCH))
    from profile_kernels import temporary_environment

    if suite == "resblock":
        calls = _resblock_calls(workloads, dtypes)
    else:
        calls = streaming_calls()
    with torch.no_grad():
        for _, call, env in calls:
            with temporary_environment(env):
                for _ in range(WARMUP_CALLS):
                    call()
        torch.cuda.synchronize()
        torch.cuda.profiler.start()
        for label, call, env in calls:
            with temporary_environment(env), torch.cuda.nvtx.range(label):
                call()
            torch.cuda.synchronize()
        torch.cuda.profiler.stop()
    print(f"profiled {len(calls)} calls: {', '.join(label for label, _, _ in calls)}")
    return 0


# ---------------------------------------------------------------------------------------------
# The driver.


def find_ncu() -> str | None:
    """ncu on PATH, else the CUDA toolkit's or the newest /opt/nvidia/nsight-compute one."""
    found = shutil.which("ncu")
    if found:
        return found
    candidates = ["/usr/local/cuda/bin/ncu", *sorted(glob.glob("/opt/nvidia/nsight-compute/*/ncu"))]
    existing = [c for c in candidates if os.access(c, os.X_OK)]
    return existing[-1] if existing else None


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.splitlines()[-lines:])


def profile(
    ncu: str, out_dir: Path, suite: str, workloads: Sequence[str], dtypes: Sequence[str]
) -> int:
    stem = f"ncu-{suite}"
    report = out_dir / f"{stem}.ncu-rep"
    command = [ncu, "--clock-control", "none", "--profile-from-start", "off", "--nvtx"]
    command += ["--target-processes", "all", "--export", str(report), "--force-overwrite"]
    for section in SECTIONS:
        command += ["--section", section]
    command += [sys.executable, str(Path(__file__).resolve()), "--child", "--suite", suite]
    command += ["--workloads", *workloads, "--dtypes", *dtypes]
    print("$ " + " ".join(command), flush=True)
    run = subprocess.run(command, capture_output=True, text=True)
    print(_tail(run.stdout + run.stderr), flush=True)
    if run.returncode != 0 or not report.is_file():
        print(f"ncu failed (exit {run.returncode}); no report", file=sys.stderr)
        return 1

    page = [ncu, "--import", str(report), "--page", "raw", "--csv"]
    raw = subprocess.run(page, capture_output=True, text=True)
    if raw.returncode != 0:
        print(f"ncu --import failed: {_tail(raw.stderr)}", file=sys.stderr)
        return 1
    (out_dir / f"{stem}.csv").write_text(raw.stdout)
    renamed = subprocess.run(
        [*page, "--print-nvtx-rename", "kernel"], capture_output=True, text=True
    )
    kernels = kernels_from_csv(raw.stdout, renamed.stdout if renamed.returncode == 0 else None)
    if not kernels:
        print("ncu profiled no kernel (see its output above)", file=sys.stderr)
        return 1
    _, units = read_raw_csv(raw.stdout)
    table = markdown(kernels, time_scale_to_us(units))
    cases = (
        f"{', '.join(workloads)}; {', '.join(dtypes)}; channels_last"
        if suite == "resblock"
        else "bench/profile_kernels.py's fused imresize and uint8 PSNR cases"
    )
    note = (
        f"Suite {suite}: one call per implementation or case under ncu ({cases}). Stalls: "
        "cycles per issued instruction (WarpStateStats), largest first."
    )
    text = f"{note}\n\n{table}\n"
    (out_dir / f"{stem}.md").write_text(text)
    print(text)
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=Path("."), help="where the files go")
    parser.add_argument("--suite", default="resblock", help=f"one of {', '.join(SUITES)}")
    parser.add_argument("--workloads", nargs="+", default=list(DEFAULT_WORKLOADS))
    parser.add_argument("--dtypes", nargs="+", default=list(DEFAULT_DTYPES))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(BENCH))
    import _workloads

    known = {w.name for w in _workloads.CONV}
    unknown = [w for w in args.workloads if w not in known]
    bad_dtypes = [d for d in args.dtypes if d not in ("bfloat16", "float16")]
    if args.suite not in SUITES:
        print(f"unknown --suite {args.suite!r} (known: {', '.join(SUITES)})", file=sys.stderr)
        return 2
    if unknown or bad_dtypes:
        print(
            f"unknown --workloads {unknown} (known: {sorted(known)}) or --dtypes {bad_dtypes} "
            "(bfloat16, float16: the CUDA kernels' dtypes)",
            file=sys.stderr,
        )
        return 2
    if args.child:
        return _child(args.suite, args.workloads, args.dtypes)
    import torch

    if not torch.cuda.is_available():
        print("needs a CUDA GPU; none is visible", file=sys.stderr)
        return 2
    ncu = find_ncu()
    if ncu is None:
        print("ncu (Nsight Compute) not found on PATH or under /opt/nvidia", file=sys.stderr)
        return 2
    args.out_dir.mkdir(parents=True, exist_ok=True)
    return profile(ncu, args.out_dir, args.suite, args.workloads, args.dtypes)


if __name__ == "__main__":
    sys.exit(main())
