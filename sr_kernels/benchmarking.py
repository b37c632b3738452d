"""Benchmark results: run the suite, turn pytest-benchmark JSON into tables, charts, reports.

Used by ``sr-kernels bench`` and by ``bench/gpu_validate.sh``. Imports only the standard library
at module level (matplotlib and torch lazily), and has no package-relative imports, so the
report step also works as ``python sr_kernels/benchmarking.py report ...`` when the package
itself cannot be imported.

Result schema (what `bench/conftest.py` puts in each benchmark's ``extra_info``): ``op``,
``workload``, ``dtype``, ``layout``, ``device``, ``impl`` ("ours:<backend|auto>" or a baseline
name), ``role`` ("ours"/"baseline"), ``primary_baseline``, ``backend`` (the one that ran),
``time_s``, ``timer``, ``bytes``, ``flops``, ``gbps``, ``tflops``, ``bw_fraction_measured``,
``flops_fraction_measured`` (``*_spec`` on known GPUs), device/version/git fields, optionally
``variant`` (which kernel or compile mode of that impl, e.g. "fused", "max-autotune"); after
`annotate_speedups`: ``baseline``, ``baseline_time_s``, ``speedup``, ``best_baseline``,
``speedup_vs_best_baseline``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import math
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

# ---------------------------------------------------------------------------------------------
# Speed-ups and rows


def _time_of(entry: dict[str, Any]) -> float | None:
    info = entry.get("extra_info") or {}
    if info.get("time_s"):
        return float(info["time_s"])
    stats = entry.get("stats") or {}
    return float(stats["median"]) if stats.get("median") else None


def annotate_speedups(benchmarks: list[dict[str, Any]]) -> None:
    """Add the primary baseline, its time and speed-up (baseline / time) to every entry.

    Entries are pytest-benchmark JSON benchmarks (``group``, ``extra_info``, ``stats``);
    groups are ``op/workload/dtype/layout/device``. Idempotent.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for entry in benchmarks:
        groups.setdefault(entry.get("group") or "", []).append(entry)
    for entries in groups.values():
        baselines = [e for e in entries if (e.get("extra_info") or {}).get("role") == "baseline"]
        timed: list[tuple[dict[str, Any], float]] = []
        for e in baselines:
            t = _time_of(e)
            if t:
                timed.append((e, t))
        primary = next(((e, t) for e, t in timed if e["extra_info"].get("primary_baseline")), None)
        best = min(timed, key=lambda pair: pair[1]) if timed else None
        for entry in entries:
            info = entry.setdefault("extra_info", {})
            time_s = _time_of(entry)
            if primary is not None and time_s:
                info["baseline"] = primary[0]["extra_info"].get("impl")
                info["baseline_time_s"] = primary[1]
                info["speedup"] = primary[1] / time_s
            if best is not None and time_s:
                info["best_baseline"] = best[0]["extra_info"].get("impl")
                info["speedup_vs_best_baseline"] = best[1] / time_s


@dataclass
class Row:
    """One measured implementation of one group, flattened for tables and charts."""

    group: str
    name: str
    op: str
    workload: str
    dtype: str
    layout: str
    device: str
    impl: str
    role: str
    backend: str
    time_s: float | None
    baseline: str | None = None
    baseline_time_s: float | None = None
    speedup: float | None = None
    best_baseline: str | None = None
    speedup_vs_best_baseline: float | None = None
    variant: str | None = None
    # How the time was measured (extra_info["timer"]); None in results before 2026-12-02.
    timer: str | None = None
    gbps: float | None = None
    tflops: float | None = None
    bw_fraction: float | None = None
    flops_fraction: float | None = None
    device_name: str = ""
    # CPU rows of ours: baseline -> {"speedup", "q1", "q3", "rounds"} from interleaved rounds.
    paired: dict[str, dict[str, float]] | None = None
    # Training steps: memory the forward pass left allocated (what is kept for the backward,
    # the output included) and the forward's peak (with its temporaries and workspaces).
    activation_bytes: float | None = None
    forward_peak_bytes: float | None = None


def rows_from_benchmarks(benchmarks: Iterable[dict[str, Any]]) -> list[Row]:
    """Rows for every entry that carries sr_kernels' extra_info (others are ignored)."""
    rows = []
    for entry in benchmarks:
        info = entry.get("extra_info") or {}
        if "impl" not in info:
            continue
        rows.append(
            Row(
                group=entry.get("group") or "",
                name=entry.get("name", ""),
                op=info.get("op", ""),
                workload=info.get("workload", ""),
                dtype=info.get("dtype", ""),
                layout=info.get("layout", ""),
                device=info.get("device", ""),
                impl=info["impl"],
                role=info.get("role", ""),
                backend=info.get("backend", ""),
                time_s=_time_of(entry),
                baseline=info.get("baseline"),
                baseline_time_s=info.get("baseline_time_s"),
                speedup=info.get("speedup"),
                best_baseline=info.get("best_baseline"),
                speedup_vs_best_baseline=info.get("speedup_vs_best_baseline"),
                variant=info.get("variant"),
                timer=info.get("timer"),
                gbps=info.get("gbps"),
                tflops=info.get("tflops"),
                bw_fraction=info.get("bw_fraction_measured"),
                flops_fraction=info.get("flops_fraction_measured"),
                device_name=info.get("device_name", ""),
                paired=info.get("paired"),
                activation_bytes=info.get("activation_bytes_kept"),
                # Reports before 2026-12-01 recorded only the peak, under this name.
                forward_peak_bytes=info.get("activation_bytes_forward"),
            )
        )
    return rows


def _kind(value: Any) -> str:
    kinds = {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
    }
    return "null" if value is None else kinds.get(type(value), f"a {type(value).__name__}")


def _benchmark_problem(data: Any) -> str | None:
    """What keeps `data` from having pytest-benchmark's layout (None: nothing): an object with a
    ``benchmarks`` list of objects, whose ``extra_info`` and ``stats`` are objects."""
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        got = _kind(data.get("benchmarks")) if isinstance(data, dict) else _kind(data)
        if isinstance(data, dict) and "benchmarks" not in data:
            got = "no such key"
        return f'expected a pytest-benchmark JSON object with a "benchmarks" list, got {got}'
    for i, entry in enumerate(data["benchmarks"]):
        if not isinstance(entry, dict):
            return f"benchmarks[{i}] is {_kind(entry)}, expected an object"
        for key in ("extra_info", "stats"):
            if entry.get(key) is not None and not isinstance(entry[key], dict):
                return f"benchmarks[{i}].{key} is {_kind(entry[key])}, expected an object"
        info, stats = entry.get("extra_info") or {}, entry.get("stats") or {}
        fields: list[tuple[str, Any, type]] = [("group", entry.get("group"), str)]
        fields += [(f"extra_info.{k}", info.get(k), str) for k in _STRING_FIELDS]
        fields += [(f"extra_info.{k}", info.get(k), float) for k in _NUMBER_FIELDS]
        fields += [("stats.median", stats.get("median"), float)]
        fields += [("extra_info.paired", info.get("paired"), dict)]
        for key, value, kind in fields:
            if value is None:
                continue
            if kind is float:  # times, rates, fractions and ratios: none is negative
                ok = isinstance(value, (int, float)) and not isinstance(value, bool)
                ok = ok and _finite(value) and value >= 0
            else:
                ok = isinstance(value, kind)
            if not ok:
                expected = {str: "a string", float: "a finite number >= 0", dict: "an object"}[kind]
                return f"benchmarks[{i}].{key} is {value!r:.40}, expected {expected}"
    if data.get("commit_info") is not None and not isinstance(data["commit_info"], dict):
        return f"commit_info is {_kind(data['commit_info'])}, expected an object"
    return None


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int past float's range
        return False


# extra_info fields the tables and the chart format (`Row`): their JSON types.
_STRING_FIELDS = (
    "impl",
    "role",
    "op",
    "workload",
    "dtype",
    "layout",
    "device",
    "backend",
    "variant",
    "baseline",
    "best_baseline",
    "device_name",
)
_NUMBER_FIELDS = (
    "time_s",
    "baseline_time_s",
    "speedup",
    "speedup_vs_best_baseline",
    "gbps",
    "tflops",
    "bw_fraction_measured",
    "flops_fraction_measured",
)


def read_benchmark_json(path: str | Path) -> dict[str, Any]:
    """A pytest-benchmark JSON file, checked (`_benchmark_problem`).

    Raises ValueError with a one-line reason (no such file, not JSON, not pytest-benchmark's
    layout) that does not name the path."""
    path = Path(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "no such file"
        raise ValueError(f"{what}; expected a pytest-benchmark JSON file")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read it ({error})") from None
    except json.JSONDecodeError as error:
        raise ValueError(
            f"not valid JSON ({error}); expected a pytest-benchmark JSON file"
        ) from None
    problem = _benchmark_problem(data)
    if problem:
        raise ValueError(problem)
    return data


# ---------------------------------------------------------------------------------------------
# Markdown


def format_time(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.1f} us"


def _rate(row: Row) -> str:
    parts = []
    if row.tflops is not None:
        text = f"{row.tflops:.1f} TFLOP/s"
        if row.flops_fraction is not None:
            text += f" ({row.flops_fraction:.0%})"
        parts.append(text)
    if row.gbps is not None:
        text = f"{row.gbps:.1f} GB/s"
        if row.bw_fraction is not None:
            text += f" ({row.bw_fraction:.0%})"
        parts.append(text)
    return ", ".join(parts) or "-"


def _impl(row: Row) -> str:
    return f"{row.impl} ({row.variant})" if row.variant else row.impl


# GPU rows not timed by CUDA events (training steps, the x4 upsampler: pytest-benchmark rounds of
# host-synchronised calls) carry this mark on their time.
WALL_CLOCK_MARK = "†"


def _time_cell(row: Row) -> str:
    by_wall_clock = row.timer is not None and not row.timer.startswith("cuda-events")
    mark = f" {WALL_CLOCK_MARK}" if row.device == "cuda" and by_wall_clock else ""
    return format_time(row.time_s) + mark


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def markdown_table(rows: Sequence[Row], include_baselines: bool = False) -> str:
    """One line per implementation of ours (and of each non-primary baseline if asked).

    Columns: benchmark group, implementation, backend that ran, its time, the primary
    baseline and its time, speed-up (baseline time / time: > 1 means faster than the
    baseline), achieved rate with the fraction of the measured device peak in brackets.
    """
    header = (
        "| benchmark | impl | backend | time | baseline | baseline time | speed-up "
        "| achieved (% of measured peak) |\n"
        "|---|---|---|---:|---|---:|---:|---|"
    )
    lines = [header]
    for row in sorted(rows, key=lambda r: (r.group, r.role != "ours", r.impl, r.variant or "")):
        if row.role != "ours" and not include_baselines:
            continue
        lines.append(
            f"| `{row.group}` | {_impl(row)} | {row.backend} | {_time_cell(row)} "
            f"| {row.baseline or '-'} | {format_time(row.baseline_time_s)} "
            f"| {_ratio(row.speedup)} | {_rate(row)} |"
        )
    if len(lines) == 1:
        lines.append("| (no results) | | | | | | | |")
    return "\n".join(lines)


def paired_table(rows: Sequence[Row]) -> str:
    """Our CPU rows timed interleaved with their baselines (empty when none were): one line
    per (row, baseline) with the speed-up, the quartiles of the per-round ratios, the rounds."""
    lines = []
    for row in sorted(rows, key=lambda r: (r.group, r.impl)):
        for baseline, pair in sorted((row.paired or {}).items()):
            lines.append(
                f"| `{row.group}` | {_impl(row)} | {baseline} | {_ratio(pair.get('speedup'))} "
                f"| {_ratio(pair.get('q1'))} - {_ratio(pair.get('q3'))} "
                f"| {int(pair.get('rounds', 0))} |"
            )
    if not lines:
        return ""
    header = (
        "| benchmark | impl | baseline | paired speed-up | per-round ratios (quartiles) "
        "| rounds |\n|---|---|---|---:|---:|---:|"
    )
    return "\n".join([header, *lines])


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value / 2**20:.1f} MiB"


def memory_table(rows: Sequence[Row]) -> str:
    """The rows that measured their forward memory (training steps): what the forward kept for
    the backward and its peak, each with its ratio to its group's primary baseline (< 1: less
    memory); empty when none did."""
    measured = [r for r in rows if r.activation_bytes is not None or r.forward_peak_bytes]
    if not measured:
        return ""
    by_impl = {(r.group, r.impl): r for r in measured}
    primaries = {r.group: r.baseline for r in measured if r.role == "ours" and r.baseline}
    lines = [
        "| benchmark | impl | kept for backward | ratio | forward peak | ratio | baseline |",
        "|---|---|---:|---:|---:|---:|---|",
    ]

    def ratio(value: float | None, base: float | None) -> str:
        return _ratio(value / base if value is not None and base else None)

    for row in sorted(measured, key=lambda r: (r.group, r.role != "ours", r.impl)):
        primary = primaries.get(row.group)
        base = by_impl.get((row.group, primary)) if primary else None
        kept_base = base.activation_bytes if base else None
        peak_base = base.forward_peak_bytes if base else None
        lines.append(
            f"| `{row.group}` | {_impl(row)} | {_mib(row.activation_bytes)} "
            f"| {ratio(row.activation_bytes, kept_base)} | {_mib(row.forward_peak_bytes)} "
            f"| {ratio(row.forward_peak_bytes, peak_base)} | {primary or '-'} |"
        )
    return "\n".join(lines)


def markdown_report(rows: Sequence[Row], title: str, extra: str = "") -> str:
    devices = sorted({r.device_name for r in rows if r.device_name})
    parts = [
        f"# {title}",
        "",
        f"Devices: {', '.join(devices) or 'unknown'}. Speed-up = primary baseline time / time "
        "(> 1: ours is faster). Times: GPU CUDA-event medians (L2 flushed), except those "
        f"marked {WALL_CLOCK_MARK}: the median of pytest-benchmark rounds of host-synchronised "
        "calls (wall clock, L2 not flushed; its baseline is timed the same way); CPU wall-clock "
        "medians. Fractions are of the copy bandwidth / matmul rate measured on the device.",
        "",
        "## Ours",
        "",
        markdown_table(rows),
        "",
        "## All rows (ours and every baseline)",
        "",
        markdown_table(rows, include_baselines=True),
        "",
    ]
    paired = paired_table(rows)
    if paired:
        parts += [
            "## CPU rows timed interleaved with their baselines",
            "",
            "Each round calls ours and every baseline once, in a shuffled order, so that the "
            "machine's drift falls on both sides; speed-up = median baseline time / median "
            "time of ours over those rounds. Prefer these to the sequential ratios above on "
            "a shared CPU.",
            "",
            paired,
            "",
        ]
    memory = memory_table(rows)
    if memory:
        parts += ["## Activation memory (training steps)", "", memory, ""]
    if extra:
        parts += [extra, ""]
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# Chart


_CHART_RANGE = 2.0**20  # speed-ups beyond 2^+-20 are drawn at the edge


def plot_speedups(rows: Sequence[Row], path: str | Path, title: str = "Speed-up") -> Path:
    """Horizontal bar chart (log2 axis) of every ours row's speed-up over its primary baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    ours = [r for r in rows if r.role == "ours" and r.speedup and 0 < r.speedup < math.inf]
    ours.sort(key=lambda r: (r.group, r.impl, r.variant or ""), reverse=True)
    height = max(2.5, 0.26 * len(ours) + 1.4)
    fig, ax = plt.subplots(figsize=(11, height))
    if not ours:
        ax.text(0.5, 0.5, "no speed-ups to plot", ha="center", va="center")
        ax.set_axis_off()
    else:
        values = [float(r.speedup or 0.0) for r in ours]
        # Bars stop at the chart's range (a 1e308x ratio from a hand-edited JSON would make
        # the axis infinite); the labels keep the true values.
        shown = [min(max(v, 1.0 / _CHART_RANGE), _CHART_RANGE) for v in values]
        labels = [f"{r.group.replace('/', ' / ')}  [{_impl(r)}]" for r in ours]
        colors = ["#2a9d8f" if v >= 1 else "#e76f51" for v in values]
        y = range(len(ours))
        ax.barh(y, shown, color=colors, height=0.7)
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
        ax.axvline(1.0, color="black", linewidth=1)
        ax.set_yticks(list(y), labels, fontsize=8)
        low, high = min(shown + [1.0]), max(shown + [1.0])
        ax.set_xlim(low / 1.6, high * 1.9)
        for i, bar, value in zip(y, shown, values):
            ax.text(
                bar * 1.04,
                i,
                f"{value:.3g}x" if value >= 1e4 else _ratio(value),
                va="center",
                fontsize=7,
            )
        ax.set_xlabel("speed-up over the primary baseline (log scale; right of 1 = faster)")
        ax.grid(axis="x", which="both", alpha=0.3)
    ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------
# Roofline


@dataclass
class Roofline:
    """One device's measured roofline and the rows placed on it.

    The peaks are not re-measured here: every row carries its achieved rates (GB/s, TFLOP/s)
    and their fractions of the copy bandwidth and bf16 matrix rate the benchmark process
    measured (`bench/_roofline.py`), so rate / fraction gives those peaks back (the median over
    the device's rows: each benchmark process measures them once)."""

    device: str
    bandwidth_gbps: float | None  # measured device-to-device copy bandwidth
    matmul_tflops: float | None  # measured bf16 matrix rate (fp32 matmul on a CPU)
    matmul_dtype: str  # "bf16" on a GPU, "fp32" on a CPU
    points: list[tuple[Row, float]]  # (row, arithmetic intensity in FLOP per byte)


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def has_rates(row: Row) -> bool:
    """Whether a row has both rates, so a place on the roofline (training steps have none)."""
    return bool(row.gbps and row.tflops and row.gbps > 0 and row.tflops > 0)


def rooflines(rows: Sequence[Row]) -> list[Roofline]:
    """The rows with both rates (those without FLOPs, such as training steps, are left out),
    by device, in order of first appearance. Intensity = FLOPs / minimum bytes of the workload
    (`bench/_roofline.py`), the same for ours and the baselines of a group."""
    by_device: dict[str, list[Row]] = {}
    for row in filter(has_rates, rows):
        by_device.setdefault(row.device_name or row.device, []).append(row)
    result = []
    for device, members in by_device.items():
        bandwidth = _median([r.gbps / r.bw_fraction for r in members if r.gbps and r.bw_fraction])
        rate = _median(
            [r.tflops / r.flops_fraction for r in members if r.tflops and r.flops_fraction]
        )
        points = [(r, float(r.tflops or 0) * 1e3 / float(r.gbps or 1)) for r in members]
        matmul_dtype = "bf16" if members[0].device == "cuda" else "fp32"
        result.append(Roofline(device, bandwidth, rate, matmul_dtype, points))
    return result


def plot_roofline(rows: Sequence[Row], path: str | Path, title: str = "Roofline") -> Path:
    """Achieved TFLOP/s against arithmetic intensity (log-log), one panel per device, under the
    roofs of its measured copy bandwidth and bf16 matrix rate: ours filled, baselines hollow,
    one colour per op."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    lines = rooflines(rows)
    fig, axes = plt.subplots(1, max(1, len(lines)), figsize=(9 * max(1, len(lines)), 6.5))
    axes = list(axes) if len(lines) > 1 else [axes]
    if not lines:
        axes[0].text(0.5, 0.5, "no rows with FLOPs and bytes to plot", ha="center", va="center")
        axes[0].set_axis_off()
    ops = sorted({row.op for line in lines for row, _ in line.points})
    palette = plt.get_cmap("tab10")
    colour = {op: palette(i % 10) for i, op in enumerate(ops)}
    for ax, line in zip(axes, lines):
        xs = [x for _, x in line.points]
        ys = [float(row.tflops or 0) for row, _ in line.points]
        low, high = min(xs) / 3, max(xs) * 3
        if line.bandwidth_gbps and line.matmul_tflops:
            ridge = line.matmul_tflops * 1e3 / line.bandwidth_gbps
            low, high = min(low, ridge / 10), max(high, ridge * 3)
            grid = [low * (high / low) ** (i / 200) for i in range(201)]
            roof = [min(line.bandwidth_gbps * x / 1e3, line.matmul_tflops) for x in grid]
            ax.plot(grid, roof, color="black", linewidth=1.5)
            ax.text(
                low * 1.2,
                line.bandwidth_gbps * low * 1.2 / 1e3 * 4,
                f"copy bandwidth\n{line.bandwidth_gbps / 1e3:.2f} TB/s",
                fontsize=8,
            )
            ax.text(
                high / 1.1,
                line.matmul_tflops * 1.15,
                f"{line.matmul_dtype} matrix rate {line.matmul_tflops:.3g} TFLOP/s",
                ha="right",
                fontsize=8,
            )
        for (row, x), y in zip(line.points, ys):
            ours = row.role == "ours"
            ax.scatter(
                x,
                y,
                s=40 if ours else 28,
                marker="o" if ours else "s",
                facecolors=colour[row.op] if ours else "none",
                edgecolors=colour[row.op],
                linewidths=1.2,
                zorder=3,
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(low, high)
        top = max(ys + [line.matmul_tflops or 0.0])
        ax.set_ylim(min(ys) / 3, top * 3)
        ax.set_xlabel("arithmetic intensity (FLOP per byte of minimum traffic)")
        ax.set_ylabel("achieved TFLOP/s")
        ax.set_title(line.device, fontsize=10)
        ax.grid(which="both", alpha=0.25)
    handles = [Line2D([], [], marker="o", linestyle="", color=colour[op], label=op) for op in ops]
    handles += [
        Line2D([], [], marker="o", linestyle="", color="grey", label="ours"),
        Line2D([], [], marker="s", linestyle="", color="grey", mfc="none", label="baselines"),
    ]
    if lines:
        axes[-1].legend(handles=handles, fontsize=8, loc="lower right")
    fig.suptitle(title)
    note = (
        "Roofs: the measured copy bandwidth and matrix rate (bf16 on a GPU, fp32 on a CPU).\n"
        "Ops without matrix products (imresize, metrics) have a lower compute roof (FMA rate)."
    )
    fig.text(0.01, 0.005, note, fontsize=7, color="dimgrey")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------
# Running the suite (`sr-kernels bench`)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def current_device_slug() -> str:
    """'nvidia-h100-80gb-hbm3' on a GPU, 'cpu' otherwise (imports torch)."""
    try:
        import torch

        if torch.cuda.is_available():
            return slug(torch.cuda.get_device_name())
    except Exception:  # torch missing or broken: name the file after the CPU
        pass
    return "cpu"


def today() -> str:
    return datetime.date.today().isoformat()


@dataclass
class SuiteOutputs:
    json: Path
    markdown: Path
    png: Path  # the speed-up chart
    roofline: Path

    def paths(self) -> list[Path]:
        return [self.json, self.markdown, self.png, self.roofline]


def suite_outputs(out_dir: str | Path, stem: str) -> SuiteOutputs:
    out = Path(out_dir)
    return SuiteOutputs(
        out / f"{stem}.json",
        out / f"{stem}.md",
        out / f"{stem}-speedups.png",
        out / f"{stem}-roofline.png",
    )


def missing_modules(*names: str) -> list[str]:
    """The modules among `names` that this Python cannot import (found by name, not imported)."""
    return [name for name in names if importlib.util.find_spec(name) is None]


def missing_extra_error(names: Sequence[str], needed_for: str) -> int:
    """The one-line error for modules of the [test] extra that are not installed; exit 2."""
    return usage_error(
        f"{needed_for} needs {', '.join(names)}, not installed here: "
        "pip install 'sr_kernels[test]' (or pip install " + " ".join(names) + ")"
    )


def usage_error(message: str) -> int:
    """Say what is wrong with the command line, on one line of stderr; the exit status (2)."""
    print(f"error: {message}", file=sys.stderr)
    return 2


def folder_problem(path: str | Path) -> str | None:
    """Why `path` cannot be used (or created) as an output folder; None when it can."""
    path = Path(path)
    for folder in (path, *path.parents):
        if folder.is_dir():
            return None
        if folder.exists():
            return f"{folder} is not a folder"
    return None


def overwrite_problem(paths: Sequence[Path], force: bool, instead: str) -> str | None:
    """The usage error when some of `paths` exist and `force` is off (`instead`: the option
    that picks other names), or when one is not a file (--force replaces files only: a folder
    there would have failed the replacement after the whole run); None otherwise."""
    others = [str(p) for p in paths if p.exists() and not p.is_file()]
    if others:
        return f"{', '.join(others)} exist and are not files; remove them or pass {instead}"
    existing = [str(p) for p in paths if p.exists()]
    if existing and not force:
        return f"{', '.join(existing)} already exist; pass --force or {instead}"
    return None


def output_problem(
    out_dir: str | Path, stem: str, paths: Sequence[Path], force: bool
) -> str | None:
    """Why the outputs `paths` (files `stem`* in `out_dir`) cannot be written, as a usage error
    message; None once `out_dir` exists and, with `force`, the old files are gone. Nothing is
    created before every check passed: no command overwrites a file unless asked to."""
    problem = folder_problem(out_dir)
    if problem:
        return f"--out {out_dir}: {problem}; expected an output folder"
    if not stem or stem in (".", "..") or Path(stem).name != stem:
        return f"--name {stem!r}: expected a file name (the outputs go into --out), not a path"
    problem = overwrite_problem(paths, force, "another --name")
    if problem:
        return problem
    try:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"--out {out_dir}: cannot create it ({error.strerror or error})"
    try:  # before a run of many minutes, not after it
        tempfile.TemporaryFile(dir=out_dir).close()
    except OSError as error:
        return f"--out {out_dir}: cannot write to it ({error.strerror or error})"
    return None


def staged(path: Path) -> Path:
    """Where an output is written before it replaces `path` (same folder and suffix), so that
    a failed or interrupted run leaves the old file in place."""
    return path.with_name(f".partial-{path.name}")


def replace_staged(paths: Sequence[Path]) -> None:
    for path in paths:
        os.replace(staged(path), path)


def remove_staged(paths: Sequence[Path]) -> None:
    for path in paths:
        staged(path).unlink(missing_ok=True)


def render(
    json_path: str | Path,
    markdown_path: str | Path,
    png_path: str | Path,
    data: dict[str, Any] | None = None,
    source: str | Path | None = None,
    roofline_path: str | Path | None = None,
) -> list[Row]:
    """Read a pytest-benchmark JSON and write the markdown table, the speed-up chart and (when
    `roofline_path` is given) the roofline.

    `data`: the file's content when the caller has read it already (`read_benchmark_json`).
    Raises ValueError when it is not pytest-benchmark JSON. `source`: the file named in the
    title (default `json_path`)."""
    source = Path(json_path if source is None else source)
    if data is None:
        data = read_benchmark_json(json_path)
    benchmarks = data.get("benchmarks", [])
    annotate_speedups(benchmarks)
    rows = rows_from_benchmarks(benchmarks)
    commit = (data.get("commit_info") or {}).get("id", "")
    title = f"sr_kernels benchmarks ({source.stem})"
    extra = f"Source: `{source.name}`, commit {commit or 'unknown'}."
    Path(markdown_path).write_text(markdown_report(rows, title, extra))
    plot_speedups(rows, png_path, title=f"sr_kernels speed-ups ({source.stem})")
    if roofline_path is not None:
        plot_roofline(rows, roofline_path, title=f"sr_kernels roofline ({source.stem})")
    return rows


def run_suite(
    bench_dir: str | Path = "bench",
    out_dir: str | Path = "bench/results",
    stem: str | None = None,
    keyword: str | None = None,
    force: bool = False,
    python: str | None = None,
    pytest_args: Sequence[str] = (),
) -> int:
    """Run ``pytest <bench_dir> --benchmark-only --benchmark-json=...`` then render md + png.

    Refuses (exit status 2) to overwrite an existing output file unless `force`. Returns the
    pytest exit status (the report is still written when some benchmarks failed).
    """
    bench_dir = Path(bench_dir)
    if not bench_dir.is_dir():
        what = "a file, not a folder" if bench_dir.exists() else "no such folder"
        return usage_error(f"--bench-dir {bench_dir}: {what}; expected the benchmark folder")
    # Checked first: without them pytest runs nothing, or the results cannot be drawn.
    missing = missing_modules("pytest", "pytest_benchmark", "matplotlib")
    if missing:
        return missing_extra_error(missing, "sr-kernels bench")
    stem = stem or f"bench-{today()}-{current_device_slug()}"
    outputs = suite_outputs(out_dir, stem)
    problem = output_problem(out_dir, stem, outputs.paths(), force)
    if problem:
        return usage_error(problem)
    command = [
        python or sys.executable,
        "-m",
        "pytest",
        str(bench_dir),
        "--benchmark-only",
        f"--benchmark-json={staged(outputs.json)}",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    if keyword:
        command += ["-k", keyword]
    command += list(pytest_args)
    print("running:", shlex.join(command), flush=True)
    try:
        status = subprocess.call(command)
        if not staged(outputs.json).exists():
            print(f"error: pytest wrote no results (exit status {status})", file=sys.stderr)
            return status or 1
        json_path = staged(outputs.json)
        try:
            data = read_benchmark_json(json_path)
        except ValueError as reason:
            print(f"error: pytest's results {json_path}: {reason}", file=sys.stderr)
            return status or 1
        # The measurements are kept whatever happens to the table and charts below; old
        # report files of the stem (--force) go, so none is left describing another run.
        replace_staged([outputs.json])
        reports = [outputs.markdown, outputs.png, outputs.roofline]
        try:
            rows = render(
                outputs.json,
                staged(outputs.markdown),
                staged(outputs.png),
                data,
                roofline_path=staged(outputs.roofline),
            )
        except Exception as error:
            for path in reports:
                path.unlink(missing_ok=True)
            print(
                f"error: the results are in {outputs.json}, but drawing the report failed "
                f"({type(error).__name__}: {error}); once that is fixed, "
                f"`sr-kernels bench --from-json {shlex.quote(str(outputs.json))}` draws it",
                file=sys.stderr,
            )
            return status or 1
        replace_staged(reports)
    finally:
        remove_staged(outputs.paths())
    written = ", ".join(str(path) for path in outputs.paths())
    print(f"{len(rows)} results; wrote {written}")
    return status


# ---------------------------------------------------------------------------------------------
# GPU validation report (bench/gpu_validate.sh)


@dataclass
class SuiteResult:
    """Counts and failing test ids of one JUnit XML file."""

    name: str
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    failures: list[str] | None = None
    found: bool = True


def _test_id(case: ET.Element) -> str:
    classname = case.get("classname", "")
    name = case.get("name", "")
    path = classname.replace(".", "/")
    return f"{path}.py::{name}" if classname else name


def parse_junit(path: str | Path, name: str) -> SuiteResult:
    path = Path(path)
    if not path.exists():
        return SuiteResult(name, failures=[], found=False)
    result = SuiteResult(name, failures=[])
    assert result.failures is not None
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as error:
        result.found = False
        result.failures.append(f"(unreadable JUnit XML: {error})")
        return result
    for case in root.iter("testcase"):
        if not case.get("name"):  # pytest's entry for an interrupt (one per xdist worker)
            continue
        if case.find("failure") is not None:
            result.failed += 1
            result.failures.append(_test_id(case))
        elif case.find("error") is not None:
            result.errors += 1
            result.failures.append(_test_id(case) + " (error)")
        elif case.find("skipped") is not None:
            result.skipped += 1
        else:
            result.passed += 1
    return result


# Stages whose names start with these ran pytest: <stage>.xml is their JUnit XML and, for
# benchmarks, <stage>.json their pytest-benchmark JSON.
PYTEST_STAGE_PREFIXES = ("tests", "bench")


def _status(text: str) -> int | str:
    """An exit status, or a word for a stage that did not run ("off", "skipped: ...")."""
    try:
        return int(text)
    except ValueError:
        return text


def _tsv_records(
    path: Path, parse: Callable[[list[str]], dict[str, Any] | None], unreadable: list[str]
) -> list[dict[str, Any]]:
    """`parse` applied to each line's tab-separated fields (None: not a record). A line it
    cannot read (a run killed while writing it) goes to `unreadable`: the report of a run
    must not be lost to one bad line."""
    records = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = parse(line.split("\t"))
        except (ValueError, IndexError) as error:
            unreadable.append(f"{path.name} line {number}: {line!r} ({error})")
            continue
        if record is not None:
            records.append(record)
    return records


def _stage_record(parts: list[str]) -> dict[str, Any] | None:
    if len(parts) < 3:
        raise ValueError("expected stage, status, seconds[, limit]")
    stage: dict[str, Any] = {
        "stage": parts[0],
        "status": _status(parts[1]),
        "seconds": float(parts[2]),
    }
    if len(parts) >= 4 and parts[3]:
        stage["limit"] = float(parts[3])
    return stage


def _read_stages(path: Path, unreadable: list[str]) -> list[dict[str, Any]]:
    """stages.tsv: stage, exit status (or why it did not run), seconds[, limit in seconds]."""
    return _tsv_records(path, _stage_record, unreadable) if path.exists() else []


def _plan_stage(parts: list[str]) -> dict[str, Any] | None:
    if len(parts) < 5:
        raise ValueError("expected name, priority, share, max, state[, what]")
    return {
        "name": parts[0],
        "priority": int(parts[1]),
        "share": float(parts[2]),
        "max": float(parts[3]),
        "state": parts[4],
        "what": parts[5] if len(parts) > 5 else "",
    }


def read_plan(path: str | Path, unreadable: list[str] | None = None) -> dict[str, Any]:
    """plan.tsv of gpu_validate.sh: ``# budget_s <s> reserve_s <s>``, then one stage a line
    in running order: name, priority, share (seconds held for it), max (its limit when time
    is left over), state (on/off/skip), what it runs. Empty when absent. Lines that cannot be
    read are skipped and described in `unreadable`."""
    path = Path(path)
    if not path.exists():
        return {}
    plan: dict[str, Any] = {"stages": []}

    def parse(parts: list[str]) -> dict[str, Any] | None:
        if not parts[0].startswith("#"):
            return _plan_stage(parts)
        words = parts[0].lstrip("# ").split()
        plan.update({k: float(v) for k, v in zip(words[::2], words[1::2])})
        return None

    plan["stages"] = _tsv_records(path, parse, [] if unreadable is None else unreadable)
    return plan


def _stage_status(status: int | str) -> str:
    if isinstance(status, str):
        return status
    if status == 124:  # SIGINT at the limit: pytest still wrote what it had
        return "TIMED OUT (partial results)"
    if status == 137:  # SIGKILL after the grace period: nothing may have been written
        return "KILLED at its limit (results may be lost)"
    return "ok" if status == 0 else f"FAILED ({status})"


def _tail(path: Path, lines: int) -> str:
    if not path.exists():
        return ""
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def _hardware_counters(work: Path) -> str:
    """The tables bench/ncu_kernels.py wrote (``ncu-<suite>.md``, one per suite), in name order."""
    tables = [_tail(path, 200) for path in sorted(work.glob("ncu-*.md"))]
    return "\n\n".join(table for table in tables if table)


def _load_benchmarks(sources: Sequence[Path]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every benchmark of the JSON files that exist, tagged with extra_info["stage"]; and the
    first file's other fields (machine, commit). A file cut short (a killed run) is skipped."""
    benchmarks: list[dict[str, Any]] = []
    header: dict[str, Any] = {}
    for path in sources:
        if not path.exists():
            continue
        try:
            data = read_benchmark_json(path)
        except ValueError as reason:
            print(f"skipping {path}: {reason}", file=sys.stderr)
            continue
        header = header or {k: v for k, v in data.items() if k != "benchmarks"}
        for entry in data.get("benchmarks", []):
            entry.setdefault("extra_info", {})["stage"] = path.stem
            benchmarks.append(entry)
    return benchmarks, header


def _tune_summary(log: Path) -> str:
    """The markdown table and the closing count of an ``sr-kernels tune`` log ('' if none)."""
    if not log.is_file():
        return ""
    keep = [
        line
        for line in log.read_text(errors="replace").splitlines()
        if line.startswith("|") or " cases timed" in line or line.startswith("interrupted")
    ]
    return "\n".join(keep)


# What the rows were measured with (STYLE: results name their commit and TF32 state).
PROVENANCE_FIELDS = ("git_sha", "torch", "triton", "cuda", "cudnn", "tf32", "cudnn_benchmark")


def _provenance(benchmarks: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """Each of PROVENANCE_FIELDS with the distinct values the benchmarks' extra_info recorded
    (more than one: rows of one report measured under different settings); the commit falls
    back to $SR_KERNELS_GIT_SHA (gpu_validate.sh sets it) when no row recorded one."""
    found: dict[str, list[str]] = {}
    for name in PROVENANCE_FIELDS:
        values = set()
        for entry in benchmarks:
            value = (entry.get("extra_info") or {}).get(name)
            if value is not None:
                values.add(
                    json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value)
                )
        found[name] = sorted(values)
    if not found["git_sha"] and os.environ.get("SR_KERNELS_GIT_SHA"):
        found["git_sha"] = [os.environ["SR_KERNELS_GIT_SHA"]]
    return found


def _provenance_lines(provenance: dict[str, list[str]]) -> list[str]:
    labels = {
        "git_sha": "commit",
        "tf32": "TF32 settings",
        "cudnn_benchmark": "torch.backends.cudnn.benchmark",
    }
    return [
        f"- {labels.get(name, name)}: {' | '.join(values) if values else 'not recorded'}"
        for name, values in provenance.items()
    ]


def report_outputs(out_stem: str | Path) -> list[Path]:
    """Every file `validation_report` may write: ``<stem>.json``, ``.md``,
    ``-pytest-benchmark.json``, ``-speedups.png``, ``-roofline.png`` and
    ``-backend-timings.json``."""
    out_stem = Path(out_stem)
    suffixes = (
        ".json",
        ".md",
        "-pytest-benchmark.json",
        "-speedups.png",
        "-roofline.png",
        "-backend-timings.json",
    )
    return [out_stem.with_name(out_stem.name + suffix) for suffix in suffixes]


def validation_report(
    work: str | Path, out_stem: str | Path, gpu_name: str = "", png: bool = True
) -> dict[str, Any]:
    """Collect a gpu_validate.sh work folder into ``<out_stem>.json`` and ``<out_stem>.md``.

    The work folder holds ``plan.tsv`` (`read_plan`), ``stages.tsv`` (stage, exit status or why
    it did not run, seconds, limit), ``<stage>.log`` files, for each pytest stage
    (`PYTEST_STAGE_PREFIXES`) its JUnit XML ``<stage>.xml`` and, for benchmarks, the
    pytest-benchmark JSON ``<stage>.json``, ``env.log`` / ``env-kernels.log``
    (``sr-kernels env [--kernels]``), ``ncu-<suite>.md`` (the tables of bench/ncu_kernels.py),
    and ``tune.log`` with the table ``sr-kernels tune`` wrote,
    ``backend-timings.json`` (copied to ``<out_stem>-backend-timings.json``). The benchmarks of
    every stage are merged (speed-ups over the union, so a stage may time ours against baselines
    another stage timed) and also written raw to ``<out_stem>-pytest-benchmark.json``.
    """
    work = Path(work)
    out_stem = Path(out_stem)
    unreadable: list[str] = []
    plan = read_plan(work / "plan.tsv", unreadable)
    stages = _read_stages(work / "stages.tsv", unreadable)
    # gpu_validate.sh writes plan.tsv before any stage: without it, nothing ran.
    names = [s["name"] for s in plan.get("stages", [])]
    names = [name for name in names if name.startswith(PYTEST_STAGE_PREFIXES)]
    suites = [parse_junit(work / f"{name}.xml", name) for name in names]
    sources = [work / f"{name}.json" for name in names if name.startswith("bench")]
    benchmarks, header = _load_benchmarks(sources)
    annotate_speedups(benchmarks)
    rows = rows_from_benchmarks(benchmarks)
    report: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "gpu": gpu_name,
        "provenance": _provenance(benchmarks),
        "plan": plan,
        "stages": stages,
        "tests": [asdict(s) for s in suites],
        "benchmarks": [asdict(r) for r in rows],
        "env": _tail(work / "env.log", 200),
        "kernel_resource_usage": _tail(work / "env-kernels.log", 400),
        "install_log_tail": _tail(work / "install.log", 40),
        "backend_timings": _tune_summary(work / "tune.log"),
        "hardware_counters": _hardware_counters(work),
        "unreadable_lines": unreadable,
    }
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    json_path, md_path, raw, png_path, roofline_path, timings_path = report_outputs(out_stem)
    json_path.write_text(json.dumps(report, indent=2, default=str))
    if benchmarks:
        raw.write_text(json.dumps({**header, "benchmarks": benchmarks}, indent=2, default=str))
    if (work / "backend-timings.json").is_file():
        timings_path.write_bytes((work / "backend-timings.json").read_bytes())

    md = [f"# GPU validation: {gpu_name or 'unknown GPU'} ({report['date']})", ""]
    md += ["Measured with (every value the benchmark rows recorded):", ""]
    md += _provenance_lines(report["provenance"])
    md += ["", "## Stages", ""]
    if not plan:
        md += ["No plan.tsv in the work folder: the validation script did not start its stages."]
    else:
        ran = {s["stage"]: s for s in stages}
        md += [
            f"In running order; budget {plan.get('budget_s', 0):.0f} s. A stage is held its "
            "share and may use time earlier stages left over, up to its max (priority 0: set-up).",
            "",
            "| stage | priority | share / max | limit | status | seconds | what |",
            "|---|---:|---|---:|---|---:|---|",
        ]
        for stage in plan["stages"]:
            done = ran.get(stage["name"])
            status = _stage_status(done["status"]) if done else "not run"
            limit = seconds = "-"
            if done and isinstance(done["status"], int):  # it ran
                limit = f"{done['limit']:.0f}" if "limit" in done else "-"
                seconds = f"{done['seconds']:.0f}"
            md.append(
                f"| {stage['name']} | {stage['priority']} | {stage['share']:.0f} / "
                f"{stage['max']:.0f} | {limit} | {status} | {seconds} | {stage['what']} |"
            )
    if unreadable:
        md += ["", "Lines of the work folder's tables that could not be read (skipped):", ""]
        md += [f"- `{line}`" for line in unreadable]
    md += [
        "",
        "## Tests",
        "",
        "| run | passed | failed | errors | skipped |",
        "|---|---:|---:|---:|---:|",
    ]
    for suite in suites:
        if not suite.found:
            md.append(f"| {suite.name} | not run (no JUnit XML) | | | |")
            continue
        md.append(
            f"| {suite.name} | {suite.passed} | {suite.failed} | {suite.errors} | {suite.skipped} |"
        )
    for suite in suites:
        if suite.failures:
            md += ["", f"Failing in `{suite.name}`:", ""]
            md += [f"- `{name}`" for name in suite.failures]
    md += ["", "## Benchmarks", "", markdown_table(rows), ""]
    md += ["### Every row (ours and baselines)", "", markdown_table(rows, True), ""]
    memory = memory_table(rows)
    if memory:
        md += ["### Activation memory (training steps)", "", memory, ""]
    if png and rows:
        try:
            plot_speedups(rows, png_path, title=f"sr_kernels speed-ups on {gpu_name or 'GPU'}")
            md += [f"![speed-ups]({png_path.name})", ""]
            plot_roofline(rows, roofline_path, title=f"sr_kernels roofline on {gpu_name or 'GPU'}")
            md += [f"![roofline]({roofline_path.name})", ""]
        except Exception as error:  # matplotlib missing: the table is the result
            md += [f"(no chart: {error})", ""]
    if report["hardware_counters"]:
        md += ["## Hardware counters (`bench/ncu_kernels.py`)", ""]
        md += [str(report["hardware_counters"]), ""]
    md += ["## Backend timings (`sr-kernels tune`)", ""]
    md += [report["backend_timings"] or "(not measured)", ""]
    if timings_path.exists():
        md += [f"The table: `{timings_path.name}` (the registry's measured order).", ""]
    md += ["## Kernel resource usage (`sr-kernels env --kernels`)", "", "```"]
    md += [str(report["kernel_resource_usage"] or "(not available)"), "```", ""]
    md += ["## Environment (`sr-kernels env`)", "", "```", str(report["env"] or "(not available)")]
    md += ["```", ""]
    failed_install = any(
        s["stage"].startswith("install") and isinstance(s["status"], int) and s["status"] != 0
        for s in stages
    )
    if failed_install:
        md += ["## Install log (last lines)", "", "```", str(report["install_log_tail"]), "```", ""]
    md_path.write_text("\n".join(md))
    print(f"wrote {json_path} and {md_path}")
    return report


# ---------------------------------------------------------------------------------------------
# Command line: python -m sr_kernels.benchmarking {run,render,report}


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by `sr-kernels bench` and `python -m sr_kernels.benchmarking run`."""
    parser.add_argument("--bench-dir", help="benchmark folder (default ./bench)")
    parser.add_argument("-k", dest="keyword", help="pytest -k expression selecting benchmarks")
    parser.add_argument(
        "--out", default="bench/results", help="output folder (default bench/results)"
    )
    parser.add_argument("--name", help="file stem (default bench-<date>-<device>)")
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument(
        "--from-json",
        help="render the table and chart of an existing pytest-benchmark JSON (no run)",
    )
    parser.add_argument(
        "pytest_args", nargs=argparse.REMAINDER, help="after --: extra pytest arguments"
    )


def run_from_args(args: argparse.Namespace) -> int:
    extra = [a for a in (args.pytest_args or []) if a != "--"]
    if args.from_json:
        ignored = [
            name
            for name, given in (("-k", args.keyword), ("--bench-dir", args.bench_dir))
            if given is not None
        ] + (["pytest arguments"] if extra else [])
        if ignored:
            return usage_error(
                f"--from-json renders an existing file and runs nothing: "
                f"{', '.join(ignored)} would be ignored"
            )
        return render_from_args(args)
    return run_suite(
        bench_dir=args.bench_dir or "bench",
        out_dir=args.out,
        stem=args.name,
        keyword=args.keyword,
        force=args.force,
        pytest_args=extra,
    )


def render_from_args(args: argparse.Namespace) -> int:
    """``--from-json F``: every argument checked before anything is created or written."""
    source = Path(args.from_json)
    try:
        data = read_benchmark_json(source)
    except ValueError as reason:
        return usage_error(f"--from-json {source}: {reason}")
    count = len(data["benchmarks"])
    if count and not rows_from_benchmarks(data["benchmarks"]):
        return usage_error(
            f"--from-json {source}: none of its {count} benchmarks has sr_kernels' extra_info "
            "(a GPU validation report? its tables are in the .md beside it)"
        )
    missing = missing_modules("matplotlib")
    if missing:
        return missing_extra_error(missing, "sr-kernels bench --from-json")
    stem = source.stem if args.name is None else args.name
    outputs = suite_outputs(args.out, stem)
    written = [outputs.markdown, outputs.png, outputs.roofline]
    problem = output_problem(args.out, stem, written, args.force)
    if problem:
        return usage_error(problem)
    try:
        rows = render(
            source,
            staged(outputs.markdown),
            staged(outputs.png),
            data,
            source=source,
            roofline_path=staged(outputs.roofline),
        )
        replace_staged(written)
    finally:
        remove_staged(written)
    ignored = len(data.get("benchmarks", [])) - len(rows)
    entries = "entry" if ignored == 1 else "entries"
    note = f" ({ignored} {entries} without sr_kernels' extra_info left out)" if ignored else ""
    print(f"{len(rows)} results{note}; wrote {', '.join(str(path) for path in written)}")
    return 0


def report_from_args(args: argparse.Namespace) -> int:
    """``report``: a work folder that exists, and no existing report file overwritten unless
    --force (which replaces all of the stem's old files, so none is left from another run; they
    are restored if the report fails)."""
    work = Path(args.work)
    if not work.is_dir():
        what = "is a file" if work.exists() else "no such folder"
        return usage_error(f"--work {work}: {what}; expected a gpu_validate.sh work folder")
    out_stem = Path(args.out_stem)
    if out_stem.name in ("", ".", "..") or out_stem.is_dir():
        return usage_error(f"--out-stem {args.out_stem!r}: expected a file stem, e.g. dir/name")
    if out_stem.parent.resolve() == work.resolve():  # --force would set the inputs aside
        return usage_error(f"--out-stem {args.out_stem!r}: must not be in --work {work}")
    problem = folder_problem(out_stem.parent)
    if problem:
        return usage_error(f"--out-stem {out_stem}: {problem}; expected a stem in a folder")
    outputs = report_outputs(out_stem)
    problem = overwrite_problem(outputs, args.force, "another --out-stem")
    if problem:
        return usage_error(problem)
    # The old files are set aside (.previous-<name>), not deleted, until the new report is
    # written (the report names its chart and table files, so it cannot be written aside).
    kept = [path for path in outputs if path.exists()]
    for path in kept:
        os.replace(path, _previous(path))
    try:
        validation_report(work, out_stem, args.gpu_name)
    except BaseException:
        for path in outputs:
            path.unlink(missing_ok=True)
        for path in kept:
            os.replace(_previous(path), path)
        raise
    for path in kept:
        _previous(path).unlink()
    return 0


def _previous(path: Path) -> Path:
    return path.with_name(f".previous-{path.name}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sr_kernels.benchmarking")
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_arguments(sub.add_parser("run", help="run the benchmark suite and render it"))
    report = sub.add_parser("report", help="GPU validation report from a gpu_validate work dir")
    report.add_argument("--work", required=True, help="gpu_validate.sh work folder")
    report.add_argument(
        "--out-stem",
        required=True,
        help="writes <stem>.json, <stem>.md (+ -pytest-benchmark.json, -speedups.png, "
        "-roofline.png)",
    )
    report.add_argument("--gpu-name", default=os.environ.get("SR_KERNELS_GPU_NAME", ""))
    report.add_argument(
        "--force", action="store_true", help="overwrite (remove) the stem's existing files"
    )
    roofline = sub.add_parser(
        "roofline", help="draw the roofline of a validation report's or a benchmark run's JSON"
    )
    roofline.add_argument("source", help="<stem>.json of a report, or pytest-benchmark JSON")
    roofline.add_argument("--out", required=True, help="the PNG to write")
    roofline.add_argument("--title", default=None, help="(default: from the source's name)")
    roofline.add_argument("--force", action="store_true", help="overwrite an existing --out")
    args = parser.parse_args(argv)
    if args.command == "report":
        return report_from_args(args)
    if args.command == "roofline":
        return roofline_from_args(args)
    return run_from_args(args)


def rows_of_report(data: Any) -> list[Row] | None:
    """The rows of a validation report's JSON (`validation_report`: rows flattened under
    "benchmarks"); None when `data` is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        return None
    names = {field.name for field in fields(Row)}
    entries = data["benchmarks"]
    if not all(isinstance(e, dict) and {"group", "impl", "role"} <= e.keys() for e in entries):
        return None
    try:
        return [Row(**{k: v for k, v in e.items() if k in names}) for e in entries]
    except TypeError:  # a required field missing
        return None


def roofline_from_args(args: argparse.Namespace) -> int:
    source, out = Path(args.source), Path(args.out)
    try:
        data = json.loads(source.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return usage_error(f"{source}: cannot be read as JSON ({error})")
    rows = rows_of_report(data)
    if rows is None:
        if _benchmark_problem(data) is not None:
            return usage_error(
                f"{source}: neither a validation report (<stem>.json) nor pytest-benchmark JSON"
            )
        annotate_speedups(data["benchmarks"])
        rows = rows_from_benchmarks(data["benchmarks"])
    problem = folder_problem(out.parent) or overwrite_problem([out], args.force, "another --out")
    if problem:
        return usage_error(f"--out {out}: {problem}")
    plot_roofline(rows, out, title=args.title or f"sr_kernels roofline ({source.stem})")
    placed = sum(map(has_rates, rows))
    print(f"{placed} of {len(rows)} results placed (the others have no FLOPs); wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
