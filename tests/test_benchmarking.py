"""sr_kernels.benchmarking (behind `sr-kernels bench` and bench/gpu_validate.sh) and bench/ helpers.

Synthetic pytest-benchmark JSON -> speed-ups, markdown, PNG; the overwrite guard; the GPU
validation report from a synthetic work folder; gpu_validate.sh's stage plan (dry run: order,
shares within the budget, row selections); one small real run of the benchmark suite (CPU rows
that need no compiled extension) through `sr-kernels bench`.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
import torch

from sr_kernels import benchmarking
from sr_kernels.cli import main as cli_main

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _entry(group: str, impl: str, role: str, median: float, primary: bool = False, **info):
    op, workload, dtype, layout, device = group.split("/")
    extra = dict(
        op=op,
        workload=workload,
        dtype=dtype,
        layout=layout,
        device=device,
        impl=impl,
        role=role,
        primary_baseline=primary,
        backend=impl.split(":")[-1] if role == "ours" else impl,
        time_s=median,
        device_name="Test GPU",
        **info,
    )
    return {
        "group": group,
        "name": f"test_x[{impl}]",
        "fullname": f"bench/bench_x.py::test_x[{impl}]",
        "stats": {"median": median * 1.1, "min": median, "max": median * 2, "rounds": 3},
        "extra_info": extra,
    }


G1 = "pixel_shuffle/edsr_patch_b16_48x48/fp16/nchw/cuda"
G2 = "conv3x3/x4_270x480_to_1080p/bf16/nhwc/cuda"


def _synthetic() -> dict:
    return {
        "machine_info": {},
        "commit_info": {"id": "abc123"},
        "benchmarks": [
            _entry(G1, "ours:auto", "ours", 1e-4, gbps=1000.0, bw_fraction_measured=0.33),
            _entry(G1, "ours:triton", "ours", 4e-4, gbps=250.0),
            _entry(G1, "torch", "baseline", 2e-4, primary=True, gbps=500.0),
            _entry(G1, "torch.compile", "baseline", 1.6e-4),
            _entry(G2, "ours:cuda", "ours", 2e-3, tflops=300.0, flops_fraction_measured=0.4),
            _entry(G2, "cudnn", "baseline", 3e-3, primary=True),
            # no sr_kernels extra_info: ignored by rows_from_benchmarks
            {"group": "other", "name": "plain", "stats": {"median": 1.0}, "extra_info": {}},
        ],
    }


def test_annotate_speedups_uses_the_primary_baseline_of_each_group():
    benchmarks = _synthetic()["benchmarks"]
    benchmarking.annotate_speedups(benchmarks)
    benchmarking.annotate_speedups(benchmarks)  # idempotent
    by_impl = {(b["group"], b["extra_info"].get("impl")): b["extra_info"] for b in benchmarks}
    auto = by_impl[G1, "ours:auto"]
    assert auto["baseline"] == "torch"
    assert auto["baseline_time_s"] == pytest.approx(2e-4)
    assert auto["speedup"] == pytest.approx(2.0)
    assert auto["best_baseline"] == "torch.compile"
    assert auto["speedup_vs_best_baseline"] == pytest.approx(1.6)
    assert by_impl[G1, "ours:triton"]["speedup"] == pytest.approx(0.5)
    assert by_impl[G1, "torch"]["speedup"] == pytest.approx(1.0)
    assert by_impl[G2, "ours:cuda"]["speedup"] == pytest.approx(1.5)


def test_time_falls_back_to_the_pytest_benchmark_median():
    entry = _entry(G1, "ours:auto", "ours", 1e-4)
    del entry["extra_info"]["time_s"]
    rows = benchmarking.rows_from_benchmarks([entry])
    assert rows[0].time_s == pytest.approx(1.1e-4)


def test_markdown_table_lists_ours_with_baseline_ratio_and_rates():
    benchmarks = _synthetic()["benchmarks"]
    benchmarking.annotate_speedups(benchmarks)
    rows = benchmarking.rows_from_benchmarks(benchmarks)
    assert len(rows) == 6
    table = benchmarking.markdown_table(rows)
    lines = table.splitlines()
    assert lines[0].startswith("| benchmark | impl | backend | time | baseline")
    assert len(lines) == 2 + 3  # header, rule, three ours rows
    auto = next(line for line in lines if "ours:auto" in line)
    assert f"`{G1}`" in auto
    assert "100.0 us" in auto and "200.0 us" in auto and "2.00x" in auto
    assert "1000.0 GB/s (33%)" in auto
    cuda = next(line for line in lines if "ours:cuda" in line)
    assert "2.000 ms" in cuda and "1.50x" in cuda and "300.0 TFLOP/s (40%)" in cuda
    full = benchmarking.markdown_table(rows, include_baselines=True)
    assert "torch.compile" in full and len(full.splitlines()) == 2 + 6


def test_variant_is_shown_next_to_the_impl():
    benchmarks = _synthetic()["benchmarks"]
    benchmarks.append(_entry(G1, "ours:cuda", "ours", 5e-5, variant="fused"))
    benchmarking.annotate_speedups(benchmarks)
    rows = benchmarking.rows_from_benchmarks(benchmarks)
    line = next(line for line in benchmarking.markdown_table(rows).splitlines() if "fused" in line)
    assert "| ours:cuda (fused) |" in line and "4.00x" in line


def test_report_shows_training_step_memory_against_the_primary_baseline(tmp_path: Path):
    group = "resblock_train_step/x4_270x480_to_1080p/amp_bf16/nhwc/cuda"
    mib = 2**20
    entries = [
        _entry(
            group,
            "ours",
            "ours",
            1e-3,
            activation_bytes_kept=30 * mib,
            activation_bytes_forward=45 * mib,
        ),
        _entry(
            group,
            "eager",
            "baseline",
            2e-3,
            True,
            activation_bytes_kept=100 * mib,
            activation_bytes_forward=150 * mib,
        ),
        _entry(
            group,
            "eager-bf16-stream",
            "baseline",
            2e-3,
            activation_bytes_kept=80 * mib,
            activation_bytes_forward=120 * mib,
        ),
    ]
    benchmarking.annotate_speedups(entries)
    rows = benchmarking.rows_from_benchmarks(entries)
    table = benchmarking.memory_table(rows)
    assert f"| `{group}` | ours | 30.0 MiB | 0.30x | 45.0 MiB | 0.30x | eager |" in table
    assert f"| `{group}` | eager-bf16-stream | 80.0 MiB | 0.80x | 120.0 MiB | 0.80x |" in table
    # A report from before the kept bytes were recorded: the peak alone.
    old = [
        _entry(group, "ours", "ours", 1e-3, activation_bytes_forward=30 * mib),
        _entry(group, "eager", "baseline", 2e-3, True, activation_bytes_forward=100 * mib),
    ]
    benchmarking.annotate_speedups(old)
    old_table = benchmarking.memory_table(benchmarking.rows_from_benchmarks(old))
    assert f"| `{group}` | ours | - | - | 30.0 MiB | 0.30x | eager |" in old_table
    assert "## Activation memory" in benchmarking.markdown_report(rows, "t")
    others = benchmarking.rows_from_benchmarks(_synthetic()["benchmarks"])
    assert benchmarking.memory_table(others) == ""
    assert "Activation memory" not in benchmarking.markdown_report(others, "t")


def test_report_lists_paired_cpu_rows_only_when_there_are_some():
    group = "conv2d_act/edsr_head_b16_48x48/fp32/nhwc/cpu"
    pairs = {"eager": {"speedup": 0.97, "q1": 0.9, "q3": 1.04, "rounds": 120}}
    benchmarks = _synthetic()["benchmarks"]
    benchmarks += [
        _entry(group, "ours:auto", "ours", 7e-4, paired=pairs),
        _entry(group, "eager", "baseline", 6.9e-4, primary=True),
    ]
    rows = benchmarking.rows_from_benchmarks(benchmarks)
    report = benchmarking.markdown_report(rows, "t")
    assert "## CPU rows timed interleaved" in report
    line = next(line for line in report.splitlines() if "| eager | 0.97x |" in line)
    assert f"`{group}` | ours:auto |" in line and "0.90x - 1.04x | 120 |" in line
    plain = benchmarking.markdown_report(
        benchmarking.rows_from_benchmarks(_synthetic()["benchmarks"]), "t"
    )
    assert "interleaved" not in plain


def test_paired_speedups_time_both_sides_in_the_same_rounds(bench_modules, monkeypatch):
    import _harness

    calls = []
    clock = [0.0]  # a fake clock the calls advance: no wall-clock time in the assertions
    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])

    def ours():
        calls.append("ours")
        clock[0] += 0.002

    def baseline():
        calls.append("baseline")
        clock[0] += 0.004

    pairs = _harness.paired_speedups(ours, {"slow": baseline}, rounds=12)
    assert set(pairs) == {"slow"} and pairs["slow"]["rounds"] == 12
    assert pairs["slow"]["speedup"] == pytest.approx(2.0)
    assert pairs["slow"]["q1"] == pytest.approx(2.0) and pairs["slow"]["q3"] == pytest.approx(2.0)
    # One call each to size the rounds, then one each per round, interleaved: never 3 in a row.
    assert calls.count("ours") == calls.count("baseline") == 13
    assert all(calls[i : i + 3] not in (["ours"] * 3, ["baseline"] * 3) for i in range(len(calls)))


def test_paired_baselines_are_checked_before_their_ratio_counts(bench_modules):
    import _harness

    x = torch.rand(5)
    checked = []

    def check(out):
        checked.append(out)
        assert torch.equal(out, x), "differs"

    pairs = _harness.paired_speedups(lambda: x, {"right": lambda: x.clone()}, 10, check)
    assert set(pairs) == {"right"} and len(checked) == 1  # the baseline's first output only
    with pytest.raises(AssertionError, match="paired baseline 'wrong': differs"):
        _harness.paired_speedups(lambda: x, {"wrong": lambda: x + 1}, 10, check)


def test_compiled_baselines_take_their_tensors_as_static_inputs(bench_modules):
    # max-autotune's CUDA graphs would copy unmarked inputs before every replay (time no
    # compiled model spends); marking is what dynamo reads (torch._dynamo.mark_static_address).
    import _baselines

    calls = []
    x, k = torch.rand(3), 2.0
    call = _baselines.static_inputs(lambda a, b: calls.append((a, b)) or a * b, x, k)
    assert getattr(x, "_dynamo_static_input_type", None) == "unguarded"
    assert torch.equal(call(), x * k) and calls == [(x, k)]
    baseline = _baselines.max_autotune(lambda a: a, "identity")
    assert baseline.prepare is not None and "inputs static" in baseline.note


def test_markdown_table_says_when_empty():
    assert "(no results)" in benchmarking.markdown_table([])


def test_render_writes_markdown_and_png(tmp_path: Path):
    source = tmp_path / "results.json"
    source.write_text(json.dumps(_synthetic()))
    md, png = tmp_path / "out.md", tmp_path / "out.png"
    rows = benchmarking.render(source, md, png)
    assert len(rows) == 6
    text = md.read_text()
    assert "## Ours" in text and "commit abc123" in text and "Test GPU" in text
    data = png.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5000


def test_plot_with_nothing_to_plot_still_writes_a_png(tmp_path: Path):
    path = benchmarking.plot_speedups([], tmp_path / "empty.png")
    assert path.read_bytes().startswith(PNG_MAGIC)


def test_plot_draws_extreme_speedups_at_the_edge(tmp_path: Path):
    # A hand-edited --from-json report with a 1e308x (or 1e-300x) ratio made the axis limits
    # infinite and matplotlib raised.
    rows = [
        benchmarking.Row(
            group=f"op/w{i}/bf16/nhwc/cuda",
            name="x",
            op="op",
            workload=f"w{i}",
            dtype="bf16",
            layout="nhwc",
            device="cuda",
            impl="ours",
            role="ours",
            backend="cuda",
            time_s=1e-3,
            speedup=speedup,
        )
        for i, speedup in enumerate([1e308, 1e-300, 1.5])
    ]
    path = benchmarking.plot_speedups(rows, tmp_path / "extreme.png")
    assert path.read_bytes().startswith(PNG_MAGIC)


def _rated(op: str, role: str, gbps: float, tflops: float, device: str = "cuda", **kw):
    """A row with achieved rates and (optionally) their fractions of the measured peaks."""
    group = f"{op}/w/bf16/nhwc/{device}"
    fields = dict(op=op, workload="w", dtype="bf16", layout="nhwc", device=device)
    device_name = "GPU A" if device == "cuda" else "CPU B"
    return benchmarking.Row(
        group, op, **fields, impl=role, role=role, backend=role, time_s=1e-3,
        gbps=gbps, tflops=tflops, device_name=device_name, **kw,
    )  # fmt: skip


def test_roofline_places_rows_by_intensity_under_the_measured_peaks(tmp_path: Path):
    """Peaks come back from rate / fraction (the median over a device's rows); intensity is
    FLOPs per byte = TFLOP/s / GB/s x 1000; rows without both rates are left out."""
    rows = [
        _rated("psnr", "ours", 3000.0, 1.5, bw_fraction=0.75, flops_fraction=0.0015),
        _rated("psnr", "baseline", 600.0, 0.3, bw_fraction=0.15, flops_fraction=0.0003),
        _rated("residual_block", "ours", 200.0, 120.0, bw_fraction=0.05, flops_fraction=0.12),
        _rated("residual_block", "baseline", 250.0, 150.0),  # no fractions: placed, no peaks
        _rated("train_step", "ours", 0.0, 0.0),  # no rates: left out
        _rated("psnr", "ours", 40.0, 0.02, device="cpu", bw_fraction=0.5),
    ]
    gpu, cpu = benchmarking.rooflines(rows)
    assert (gpu.device, cpu.device) == ("GPU A", "CPU B")
    assert gpu.bandwidth_gbps == pytest.approx(4000.0) and gpu.matmul_tflops == pytest.approx(1000)
    assert [(row.op, row.role) for row, _ in gpu.points] == [
        ("psnr", "ours"), ("psnr", "baseline"),
        ("residual_block", "ours"), ("residual_block", "baseline"),
    ]  # fmt: skip
    assert [x for _, x in gpu.points] == pytest.approx([0.5, 0.5, 600.0, 600.0])
    assert cpu.bandwidth_gbps == pytest.approx(80.0) and cpu.matmul_tflops is None
    assert (gpu.matmul_dtype, cpu.matmul_dtype) == ("bf16", "fp32")
    path = benchmarking.plot_roofline(rows, tmp_path / "roofline.png")
    assert path.read_bytes().startswith(PNG_MAGIC)
    empty = benchmarking.plot_roofline(rows[4:5], tmp_path / "empty.png")
    assert empty.read_bytes().startswith(PNG_MAGIC)


def test_roofline_command_reads_reports_and_benchmark_json(tmp_path: Path, capsys):
    data = _synthetic()
    data["benchmarks"].append(_entry(G2, "ours:triton", "ours", 3e-3, gbps=100.0, tflops=200.0))
    raw = tmp_path / "bench.json"
    raw.write_text(json.dumps(data))
    report = tmp_path / "report.json"
    rows = benchmarking.rows_from_benchmarks(data["benchmarks"])
    report.write_text(json.dumps({"benchmarks": [dataclasses.asdict(r) for r in rows]}))
    for source in (raw, report):
        out = tmp_path / f"{source.stem}-roofline.png"
        assert benchmarking.main(["roofline", str(source), "--out", str(out)]) == 0
        assert out.read_bytes().startswith(PNG_MAGIC)
        # The other rows have one rate or none.
        assert "1 of 7 results placed" in capsys.readouterr().out
        assert benchmarking.main(["roofline", str(source), "--out", str(out)]) == 2
        assert "already exist" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"benchmarks": 3}')
    assert benchmarking.main(["roofline", str(bad), "--out", str(tmp_path / "b.png")]) == 2
    assert "neither a validation report" in capsys.readouterr().err
    assert not (tmp_path / "b.png").exists()


def test_cli_from_json_renders_and_refuses_to_overwrite(tmp_path: Path, capsys):
    source = tmp_path / "results.json"
    source.write_text(json.dumps(_synthetic()))
    out = tmp_path / "out"
    argv = ["bench", "--from-json", str(source), "--out", str(out), "--name", "r"]
    assert cli_main.main(argv) == 0
    assert (out / "r.md").exists() and (out / "r-speedups.png").exists()
    assert (out / "r-roofline.png").exists()
    before = (out / "r.md").stat().st_mtime_ns
    assert cli_main.main(argv) == 2
    assert "already exist" in capsys.readouterr().err
    assert (out / "r.md").stat().st_mtime_ns == before
    assert cli_main.main(argv + ["--force"]) == 0
    # --force replaces files, not a folder at an output's path: refused before any work (it
    # failed after the run, and a bench run's measurements were lost).
    (out / "r.md").unlink()
    (out / "r.md").mkdir()
    assert cli_main.main(argv + ["--force"]) == 2
    assert "r.md exist and are not files; remove them or pass another --name" in (
        capsys.readouterr().err
    )


def _one_line_error(capsys, argument: str) -> str:
    """The command's stderr: one line, ``error: <argument> ...``, no traceback."""
    err = capsys.readouterr().err
    assert err.startswith(f"error: {argument} ") and err.count("\n") == 1, err
    return err


_NOT_BENCHMARK_JSON = {
    "missing": (None, "no such file"),
    "folder": ("<folder>", "is a folder"),
    "invalid": ("{", "not valid JSON"),
    "list": ("[1, 2]", "got a list"),
    "no-benchmarks": ('{"machine_info": {}}', '"benchmarks" list, got no such key'),
    "entry": ('{"benchmarks": [1]}', "benchmarks[0] is an integer, expected an object"),
    "stats": ('{"benchmarks": [{"stats": 3}]}', "benchmarks[0].stats is an integer"),
    # Values the tables and the chart format: each was a traceback (or a half-written report).
    "time": (
        '{"benchmarks": [{"extra_info": {"time_s": "fast"}}]}',
        "benchmarks[0].extra_info.time_s is 'fast', expected a finite number",
    ),
    "nan-time": (
        '{"benchmarks": [{"extra_info": {"time_s": NaN}}]}',
        "extra_info.time_s is nan, expected a finite number",
    ),
    "negative-time": (
        '{"benchmarks": [{"extra_info": {"time_s": -1}}]}',
        "extra_info.time_s is -1, expected a finite number >= 0",
    ),
    "huge-int": ('{"benchmarks": [{"extra_info": {"gbps": 1' + "0" * 400 + "}}]}", "gbps"),
    "median": ('{"benchmarks": [{"stats": {"median": "1ms"}}]}', "stats.median is '1ms'"),
    "group": ('{"benchmarks": [{"group": 5}]}', "benchmarks[0].group is 5, expected a string"),
    "paired": ('{"benchmarks": [{"extra_info": {"paired": [1]}}]}', "paired is [1]"),
    "variant": ('{"benchmarks": [{"extra_info": {"variant": 3}}]}', "variant is 3"),
    "commit": ('{"benchmarks": [], "commit_info": [1]}', "commit_info is a list"),
    # A validation report's entries (or any JSON without our extra_info) gave empty tables.
    "none_ours": (
        '{"benchmarks": [{"name": "x", "stats": {"median": 1.0}}]}',
        "none of its 1 benchmarks has sr_kernels' extra_info",
    ),
}


@pytest.mark.parametrize("case", list(_NOT_BENCHMARK_JSON))
def test_cli_from_json_rejects_what_is_not_pytest_benchmark_json(tmp_path: Path, capsys, case):
    content, reason = _NOT_BENCHMARK_JSON[case]
    source = tmp_path / "results.json"
    if content == "<folder>":
        source.mkdir()
    elif content is not None:
        source.write_text(content)
    out = tmp_path / "out"
    argv = ["bench", "--from-json", str(source), "--out", str(out), "--name", "r"]
    assert cli_main.main(argv) == 2
    assert reason in _one_line_error(capsys, "--from-json")
    assert not out.exists()  # checked before anything was created


def test_cli_from_json_refuses_run_arguments_it_would_ignore(tmp_path: Path, capsys):
    source = tmp_path / "results.json"
    source.write_text(json.dumps(_synthetic()))
    base = ["bench", "--from-json", str(source), "--out", str(tmp_path / "out")]
    for extra, named in [
        (["-k", "cpu"], "-k"),
        (["--bench-dir", "bench"], "--bench-dir"),
        (["--", "-x"], "pytest arguments"),
    ]:
        assert cli_main.main(base + extra) == 2
        assert f"{named} would be ignored" in _one_line_error(capsys, "--from-json")
    assert not (tmp_path / "out").exists()
    assert cli_main.main(base) == 0
    assert "6 results (1 entry without sr_kernels' extra_info left out)" in (
        capsys.readouterr().out
    )


def test_cli_out_must_be_a_folder(tmp_path: Path, capsys):
    source = tmp_path / "results.json"
    source.write_text(json.dumps(_synthetic()))
    taken = tmp_path / "taken"
    taken.write_text("mine")
    for out in (taken, taken / "sub"):
        argv = ["bench", "--from-json", str(source), "--out", str(out)]
        assert cli_main.main(argv) == 2
        assert f"{taken} is not a folder" in _one_line_error(capsys, "--out")
        # Running the suite: refused before pytest starts (an empty bench folder if it did).
        (tmp_path / "bench").mkdir(exist_ok=True)
        argv = ["bench", "--bench-dir", str(tmp_path / "bench"), "--out", str(out)]
        assert cli_main.main(argv) == 2
        _one_line_error(capsys, "--out")
    assert taken.read_text() == "mine"
    assert cli_main.main(["bench", "--bench-dir", str(tmp_path / "nope")]) == 2
    _one_line_error(capsys, "--bench-dir")


def test_cli_name_is_a_file_name_and_out_must_be_creatable(tmp_path: Path, capsys):
    source = tmp_path / "results.json"
    source.write_text(json.dumps(_synthetic()))
    for name in ("../escaped", "sub/x", ".."):
        argv = ["bench", "--from-json", str(source), "--out", str(tmp_path), "--name", name]
        assert cli_main.main(argv) == 2
        assert "expected a file name" in _one_line_error(capsys, "--name")
    assert not (tmp_path.parent / "escaped.md").exists()
    if Path("/proc/self").is_dir():  # Linux: no folder can be made in /proc, even by root
        argv = ["bench", "--from-json", str(source), "--out", "/proc/sr_kernels_out"]
        assert cli_main.main(argv) == 2
        assert "cannot create it" in _one_line_error(capsys, "--out")


def test_force_keeps_the_old_results_when_the_new_run_fails(tmp_path: Path, capsys):
    """--force replaces the old files only with complete new ones: a run that writes nothing
    (pytest selects no benchmark) or a source that is refused leaves them as they were."""
    out = tmp_path / "out"
    out.mkdir()
    old = {name: f"earlier {name}" for name in ("r.json", "r.md", "r-speedups.png")}
    for name, text in old.items():
        (out / name).write_text(text)
    empty_bench = tmp_path / "bench"
    empty_bench.mkdir()
    argv = ["bench", "--bench-dir", str(empty_bench), "--out", str(out), "--name", "r"]
    assert cli_main.main(argv + ["--force"]) != 0
    assert "pytest wrote no results" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"benchmarks": [{"extra_info": {"time_s": NaN}}]}')
    argv = ["bench", "--from-json", str(bad), "--out", str(out), "--name", "r", "--force"]
    assert cli_main.main(argv) == 2
    assert {p.name: p.read_text() for p in out.iterdir()} == old  # and no partial files
    source = tmp_path / "results.json"
    source.write_text(json.dumps(_synthetic()))
    argv = ["bench", "--from-json", str(source), "--out", str(out), "--name", "r", "--force"]
    assert cli_main.main(argv) == 0
    assert (out / "r.md").read_text().startswith("# sr_kernels benchmarks (results)")
    assert (out / "r-speedups.png").read_bytes().startswith(PNG_MAGIC)
    assert (out / "r-roofline.png").read_bytes().startswith(PNG_MAGIC)
    assert sorted(p.name for p in out.iterdir()) == sorted([*old, "r-roofline.png"])


def test_an_out_folder_that_cannot_be_written_is_refused_before_running(tmp_path, capsys):
    if not Path("/proc/self").is_dir():
        pytest.skip("needs /proc (Linux): a folder no one can write to, even root")
    source = tmp_path / "results.json"
    source.write_text(json.dumps(_synthetic()))
    assert cli_main.main(["bench", "--from-json", str(source), "--out", "/proc"]) == 2
    assert "cannot write to it" in _one_line_error(capsys, "--out")
    (tmp_path / "bench").mkdir()
    assert cli_main.main(["bench", "--bench-dir", str(tmp_path / "bench"), "--out", "/proc"]) == 2
    assert "cannot write to it" in _one_line_error(capsys, "--out")


def test_run_suite_refuses_existing_outputs_before_running(tmp_path: Path, capsys):
    (tmp_path / "taken.json").write_text("{}")
    status = benchmarking.run_suite(bench_dir=BENCH, out_dir=tmp_path, stem="taken")
    assert status == 2
    assert "already exist" in capsys.readouterr().err
    assert (tmp_path / "taken.json").read_text() == "{}"


def test_run_suite_rejects_a_missing_bench_dir(tmp_path: Path, capsys):
    assert benchmarking.run_suite(bench_dir=tmp_path / "nope", out_dir=tmp_path) == 2
    assert "no such folder" in _one_line_error(capsys, "--bench-dir")
    (tmp_path / "bench.py").write_text("")
    assert benchmarking.run_suite(bench_dir=tmp_path / "bench.py", out_dir=tmp_path) == 2
    assert "a file, not a folder" in _one_line_error(capsys, "--bench-dir")


def test_slug_names_files_after_the_device():
    assert benchmarking.slug("NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"
    assert benchmarking.slug("  ") == "unknown"


# ---------------------------------------------------------------------------------------------
# GPU validation report


_JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="4">
<testcase classname="tests.ops.test_pixel_shuffle" name="test_ok[cuda]" time="0.1"/>
<testcase classname="tests.ops.test_pixel_shuffle" name="test_bad[cuda-fp16]" time="0.1">
  <failure message="boom">assert False</failure></testcase>
<testcase classname="tests.ops.test_pixel_shuffle" name="test_err" time="0.1">
  <error message="fixture">oops</error></testcase>
<testcase classname="tests.ops.test_pixel_shuffle" name="test_skip" time="0.0">
  <skipped message="no"/></testcase>
<testcase time="0.000" />
</testsuite></testsuites>
"""
# The last testcase, nameless, is what pytest writes (once per xdist worker) when interrupted:
# no test.


def test_validation_report_collects_stages_tests_benchmarks_and_kernels(tmp_path: Path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "plan.tsv").write_text(
        "# budget_s 450 reserve_s 20\n"
        "install\t0\t75\t240\ton\tpip install\n"
        "tests-cuda\t2\t35\t150\ton\tcuda tests\n"
        "tests-rest\t4\t0\t400\ton\tnot cuda\n"
        "bench\t3\t20\t60\ton\tbenchmarks\n"
    )
    (work / "stages.tsv").write_text("install\t0\t61.5\ntests-cuda\t1\t30\n")
    (work / "tests-cuda.xml").write_text(_JUNIT)
    synthetic = _synthetic()
    for i, entry in enumerate(synthetic["benchmarks"][:6]):
        entry["extra_info"].update(git_sha="abc123def456", tf32={"cudnn_allow_tf32": i % 2 == 0})
    (work / "bench.json").write_text(json.dumps(synthetic))
    (work / "env-kernels.log").write_text("kernel  sm_90  regs 32  spills 0\n")
    (work / "env.log").write_text("torch 2.11\n")
    (work / "tune.log").write_text(
        "tune: 100%|##########| 2/2\n| workload | dtype | backends (median) | fastest | fixed |\n"
        "| residual_block C=64 | bfloat16 | triton 0.2 ms, cuda 0.3 ms | triton | cuda |\n"
        "\n2 of 2 cases timed; table: /w/backend-timings.json\n"
    )
    (work / "backend-timings.json").write_text('{"format": "x", "entries": []}')
    (work / "ncu-resblock.md").write_text(
        "| implementation | kernel |\n|---|---|\n| eager | `k` |\n"
    )
    (work / "ncu-streaming.md").write_text(
        "| implementation | kernel |\n|---|---|\n| psnr | `p` |\n"
    )
    stem = tmp_path / "results" / "2025-01-01-test-gpu"
    report = benchmarking.validation_report(work, stem, gpu_name="Test GPU")

    cuda = report["tests"][0]
    assert (cuda["passed"], cuda["failed"], cuda["errors"], cuda["skipped"]) == (1, 1, 1, 1)
    assert "tests/ops/test_pixel_shuffle.py::test_bad[cuda-fp16]" in cuda["failures"]
    assert report["tests"][1]["found"] is False  # tests-rest.xml absent: reported as not run
    assert len(report["benchmarks"]) == 6
    saved = json.loads(stem.with_name(stem.name + ".json").read_text())
    assert saved["stages"][1] == {"stage": "tests-cuda", "status": 1, "seconds": 30.0}
    md = stem.with_name(stem.name + ".md").read_text()
    assert "| tests-cuda | 2 | 35 / 150 | - | FAILED (1) | 30 | cuda tests |" in md
    # What the rows were measured with: here only the commit and the TF32 state were recorded.
    assert report["provenance"]["git_sha"] == ["abc123def456"]
    assert "- commit: abc123def456" in md and "- torch: not recorded" in md
    assert '- TF32 settings: {"cudnn_allow_tf32": false} | {"cudnn_allow_tf32": true}' in md
    assert "`tests/ops/test_pixel_shuffle.py::test_bad[cuda-fp16]`" in md
    assert "not run (no JUnit XML)" in md
    assert "spills 0" in md and "2.00x" in md
    assert stem.with_name(stem.name + "-speedups.png").read_bytes().startswith(PNG_MAGIC)
    assert stem.with_name(stem.name + "-roofline.png").read_bytes().startswith(PNG_MAGIC)
    assert f"![roofline]({stem.name}-roofline.png)" in md
    assert "| residual_block C=64 | bfloat16 | triton 0.2 ms, cuda 0.3 ms | triton | cuda |" in md
    assert "2 of 2 cases timed" in md and "100%" not in md
    timings = stem.with_name(stem.name + "-backend-timings.json")
    assert timings.read_text() == '{"format": "x", "entries": []}'
    assert "## Hardware counters (`bench/ncu_kernels.py`)\n\n| implementation | kernel |" in md
    # Both suites' tables, in name order.
    counters = saved["hardware_counters"]
    assert counters.index("| eager | `k` |") < counters.index("| psnr | `p` |")
    assert counters.endswith("| psnr | `p` |")


def test_validation_report_merges_the_stages_of_a_plan(tmp_path: Path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "plan.tsv").write_text(
        "# budget_s 450 reserve_s 20\n"
        "install\t0\t75\t240\ton\tpip install\n"
        "bench-imresize\t3\t20\t60\ton\ttwo-pass\n"
        "bench-imresize-fused\t3\t10\t45\ton\tfused\n"
        "tests-conv\t2\t30\t120\ton\tconv tests\n"
        "tests-rest\t4\t0\t400\toff (SR_KERNELS_VALIDATE_ENABLE turns it on)\tnot cuda\n"
    )
    (work / "stages.tsv").write_text(
        "install\t0\t31\t85\nbench-imresize\t137\t12\t30\nbench-imresize-fused\t124\t20\t20\n"
        "tests-rest\toff (SR_KERNELS_VALIDATE_ENABLE turns it on)\t0\t0\n"
    )
    group = "imresize/div2k_2040x1356_x4_down/u8/nhwc/cuda"
    two_pass = [
        _entry(group, "ours:cuda", "ours", 2e-3, variant="two-pass"),
        _entry(group, "torch-fp32", "baseline", 4e-3, primary=True),
    ]
    fused = [_entry(group, "ours:cuda", "ours", 1e-3, variant="fused")]
    (work / "bench-imresize.json").write_text(json.dumps({"benchmarks": two_pass}))
    (work / "bench-imresize-fused.json").write_text(json.dumps({"benchmarks": fused}))
    (work / "tests-conv.xml").write_text(_JUNIT)
    stem = tmp_path / "r"
    report = benchmarking.validation_report(work, stem, gpu_name="Test GPU", png=False)

    assert [s["name"] for s in report["plan"]["stages"]][1:3] == ["bench-imresize"] + [
        "bench-imresize-fused"
    ]
    assert report["plan"]["budget_s"] == 450
    assert [t["name"] for t in report["tests"]] == [
        "bench-imresize",
        "bench-imresize-fused",
        "tests-conv",
        "tests-rest",
    ]
    # The fused stage timed only ours: its speed-up is over the other stage's baseline.
    speedups = {(b["impl"], b["variant"]): b["speedup"] for b in report["benchmarks"]}
    assert speedups["ours:cuda", "fused"] == pytest.approx(4.0)
    assert speedups["ours:cuda", "two-pass"] == pytest.approx(2.0)
    md = stem.with_name("r.md").read_text()
    assert "| install | 0 | 75 / 240 | 85 | ok | 31 | pip install |" in md
    assert "| bench-imresize-fused | 3 | 10 / 45 | 20 | TIMED OUT (partial results) | 20 |" in md
    assert "| bench-imresize | 3 | 20 / 60 | 30 | KILLED at its limit (results may be lost) |" in md
    assert "| tests-rest | 4 | 0 / 400 | - | off (SR_KERNELS_VALIDATE_ENABLE" in md
    assert "| tests-conv | 1 | 1 | 1 | 1 |" in md and "| bench-imresize | not run" in md
    assert "Hardware counters" not in md  # no ncu-<suite>.md: no section
    assert "| ours:cuda (fused) |" in md and "| ours:cuda (two-pass) |" in md
    raw = json.loads(stem.with_name("r-pytest-benchmark.json").read_text())
    assert {b["extra_info"]["stage"] for b in raw["benchmarks"]} == {
        "bench-imresize",
        "bench-imresize-fused",
    }


def test_validation_report_skips_lines_it_cannot_read(tmp_path: Path):
    """A run killed while writing its tables must still give a report (was a traceback)."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "plan.tsv").write_text(
        "# budget_s 450 reserve_s 20\n"
        "install\t0\t75\t240\ton\tpip install\n"
        "tests-cuda\tx\t35\t150\ton\tcuda tests\n"
        "bench\t3\t2\n"
    )
    (work / "stages.tsv").write_text("install\t0\t61.5\n\ntests-cuda\t1\t3")
    (work / "stages.tsv").write_bytes((work / "stages.tsv").read_bytes() + b"0.\xff\n")
    stem = tmp_path / "r"
    report = benchmarking.validation_report(work, stem, png=False)

    assert [s["name"] for s in report["plan"]["stages"]] == ["install"]
    assert report["stages"] == [{"stage": "install", "status": 0, "seconds": 61.5}]
    unreadable = report["unreadable_lines"]
    assert [line.split(":")[0] for line in unreadable] == [
        "plan.tsv line 3",
        "plan.tsv line 4",
        "stages.tsv line 3",
    ]
    md = stem.with_name("r.md").read_text()
    assert "| install | 0 | 75 / 240 | - | ok | 62 | pip install |" in md
    assert "could not be read" in md and "plan.tsv line 4" in md


def test_validation_report_runs_as_a_script_without_the_package(tmp_path: Path):
    work = tmp_path / "work"
    work.mkdir()
    script = REPO / "sr_kernels" / "benchmarking.py"
    result = subprocess.run(
        [sys.executable, "-I", str(script), "report", "--work", str(work)]
        + ["--out-stem", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "the validation script did not start its stages" in (tmp_path / "r.md").read_text()


def test_report_refuses_to_overwrite_any_of_its_files_unless_forced(tmp_path: Path, capsys):
    work = tmp_path / "work"
    work.mkdir()
    stem = tmp_path / "r"
    argv = ["report", "--work", str(work), "--out-stem", str(stem)]
    for name in ["r.md", "r-speedups.png", "r-pytest-benchmark.json"]:
        taken = tmp_path / name
        taken.write_text("an earlier report")
        assert benchmarking.main(argv) == 2
        err = _one_line_error(capsys, str(taken))
        assert "already exist; pass --force or another --out-stem" in err
        assert taken.read_text() == "an earlier report"
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["work", name])
        taken.unlink()
    (tmp_path / "r.md").write_text("an earlier report")
    (tmp_path / "r-speedups.png").write_text("an earlier chart")
    assert benchmarking.main(argv + ["--force"]) == 0
    assert "did not start its stages" in (tmp_path / "r.md").read_text()
    # No benchmarks this time: the earlier chart is not left beside the new report.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.md", "work"]


def test_a_failed_forced_report_keeps_the_earlier_report(tmp_path: Path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "r.md").write_text("an earlier report")
    (tmp_path / "r-speedups.png").write_text("an earlier chart")

    def fail(work, out_stem, gpu_name="", png=True):
        Path(f"{out_stem}.md").write_text("half a report")
        raise OSError("disk full")

    monkeypatch.setattr(benchmarking, "validation_report", fail)
    argv = ["report", "--work", str(work), "--out-stem", str(tmp_path / "r"), "--force"]
    with pytest.raises(OSError, match="disk full"):
        benchmarking.main(argv)
    assert (tmp_path / "r.md").read_text() == "an earlier report"
    assert (tmp_path / "r-speedups.png").read_text() == "an earlier chart"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r-speedups.png", "r.md", "work"]


def test_report_out_stem_is_a_file_stem_outside_the_work_folder(tmp_path: Path, capsys):
    work = tmp_path / "work"
    work.mkdir()
    (work / "bench-x.json").write_text(json.dumps(_synthetic()))
    folder = tmp_path / "folder"
    folder.mkdir()
    for stem in (str(folder), str(tmp_path / ".."), str(tmp_path / ".")):
        assert benchmarking.main(["report", "--work", str(work), "--out-stem", stem]) == 2
        assert "expected a file stem" in _one_line_error(capsys, "--out-stem")
    # In the work folder --force would delete a stage's results before reading them.
    argv = ["report", "--work", str(work), "--out-stem", str(work / "bench-x"), "--force"]
    assert benchmarking.main(argv) == 2
    assert "must not be in --work" in _one_line_error(capsys, "--out-stem")
    assert json.loads((work / "bench-x.json").read_text()) == _synthetic()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "work"]


def test_report_needs_an_existing_work_folder(tmp_path: Path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("")
    stem = tmp_path / "out" / "r"
    for work, reason in [(tmp_path / "nope", "no such folder"), (a_file, "is a file")]:
        argv = ["report", "--work", str(work), "--out-stem", str(stem)]
        assert benchmarking.main(argv) == 2
        assert reason in _one_line_error(capsys, "--work")
    argv = ["report", "--work", str(tmp_path), "--out-stem", str(a_file / "r")]
    assert benchmarking.main(argv) == 2
    assert "is not a folder" in _one_line_error(capsys, "--out-stem")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


# ---------------------------------------------------------------------------------------------
# bench/gpu_validate.sh: the stage plan (dry run)

SCRIPT = BENCH / "gpu_validate.sh"
PLAN_ORDER = [
    "info",
    "install",
    "install-jit",
    "ext",
    "env",
    "bench-resblock",
    "bench-resblock-4warps",
    "bench-resblock-wgmma",
    "bench-conv-largest",
    "bench-upsampler",
    "bench-compile",
    "tests-imresize",
    "tests-metrics",
    "tests-conv",
    "ncu-resblock",
    "sweep-conv",
    "bench-imresize",
    "bench-imresize-fused",
    "bench-imresize-noruns",
    "bench-metrics",
    "ncu-streaming",
    "profile-kernels",
    "tune",
    "tests-cuda-rest",
    "sanitize-imresize",
    "bench-pixel-shuffle",
    "bench-conv-rest",
    "bench-conv2d-act",
    "env-kernels",
    "tests-rest",
]


def _dry_run(tmp_path: Path, **knobs: str) -> tuple[dict, dict[str, dict]]:
    """The plan and, per stage the dry run would run or skip for want of time, its numbers,
    command (argv) and whether it would be skipped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SR_KERNELS_VALIDATE_")}
    env.update(SR_KERNELS_VALIDATE_DRY_RUN="1", SR_KERNELS_VALIDATE_WORK=str(tmp_path))
    env.update(PYTHON=sys.executable, **knobs)
    result = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    runs = {}
    for line in result.stdout.splitlines():
        if line.startswith(("would run", "would skip")):
            head, command = line.split(": ", 1)  # would run  NAME  prio P  share Ss ...: argv
            numbers = {k: int(v) for k, v in re.findall(r"(prio|share|max|limit) +(\d+)", head)}
            skipped = line.startswith("would skip")
            runs[head.split()[2]] = {**numbers, "argv": command, "skipped": skipped}
    return benchmarking.read_plan(tmp_path / "plan.tsv"), runs


def _report_stem(results: Path, tmp_path: Path) -> Path:
    """The stem the dry run says the report would have, in the results folder `results`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SR_KERNELS_VALIDATE_")}
    env.update(SR_KERNELS_VALIDATE_DRY_RUN="1", SR_KERNELS_VALIDATE_WORK=str(tmp_path / "work"))
    env.update(PYTHON=sys.executable, SR_KERNELS_VALIDATE_RESULTS=str(results))
    result = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(r"the report would be (.+)\.json, \.md$", result.stdout, re.M)
    assert match, result.stdout
    return Path(match.group(1))


REPORT_SUFFIXES = [
    ".json",
    ".md",
    "-pytest-benchmark.json",
    "-speedups.png",
    "-backend-timings.json",
]


def test_gpu_validate_report_stem_is_never_taken(tmp_path: Path):
    results = tmp_path / "results"
    first = _report_stem(results, tmp_path)
    assert first.parent == results and re.fullmatch(r"\d{4}-\d\d-\d\d-dry-run", first.name)
    assert not results.exists()  # a dry run writes nothing there
    results.mkdir()
    seen = [first]
    # A second run that day gets <date>-<HHMM>-<gpu>, a third that minute -2: whichever of
    # the report's files is there makes a stem taken.
    for suffix in ["-speedups.png", ".json", "-pytest-benchmark.json"]:
        Path(f"{seen[-1]}{suffix}").write_text("an earlier report")
        stem = _report_stem(results, tmp_path)
        assert stem not in seen and stem.parent == results
        assert not any(Path(f"{stem}{s}").exists() for s in REPORT_SUFFIXES)
        seen.append(stem)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d-\d{4}-dry-run", seen[1].name), seen


@pytest.mark.slow
def test_gpu_validate_report_keeps_an_earlier_report(tmp_path: Path):
    # Every stage skipped: the real report step, twice on the same results folder.
    results = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SR_KERNELS_VALIDATE_")}
    env.pop("OUT", None)
    env.update(PYTHON=sys.executable, SR_KERNELS_VALIDATE_RESULTS=str(results))
    env.update(SR_KERNELS_VALIDATE_ONLY="none")
    env.update(SR_KERNELS_VALIDATE_SKIP="info install install-jit ext env")

    def validate(run: int) -> set[Path]:
        before = set(results.glob("*")) if results.exists() else set()
        env["SR_KERNELS_VALIDATE_WORK"] = str(tmp_path / f"work{run}")
        result = subprocess.run(
            ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return set(results.glob("*")) - before

    (first_md,) = (p for p in validate(1) if p.suffix == ".md")
    stem = first_md.with_suffix("")
    # Only the earlier run's chart is left (say its report was moved): still taken.
    first_md.unlink()
    stem.with_suffix(".json").unlink()
    chart = Path(f"{stem}-speedups.png")
    chart.write_text("an earlier chart")
    written = validate(2)
    assert chart.read_text() == "an earlier chart"
    assert not first_md.exists()
    (second_md,) = (p for p in written if p.suffix == ".md")
    assert second_md.read_text().startswith("# GPU validation: ")
    assert second_md.name.endswith(stem.name[len("yyyy-mm-dd") :] + ".md")  # <date>-<HHMM>-<gpu>


@pytest.mark.slow
def test_gpu_validate_sends_results_after_each_stage_and_a_stage_without_time_is_no_failure(
    tmp_path: Path,
):
    # info runs (and is archived to $OUT at once); tests-rest, on left-over time only, finds
    # less than the least it starts with in a 40 s budget: skipped, and the exit status stays 0.
    pytest.importorskip("pytest_benchmark")  # the info stage prints its version
    out = tmp_path / "out"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SR_KERNELS_VALIDATE_")}
    env.update(PYTHON=sys.executable, OUT=str(out), SR_KERNELS_VALIDATE_BUDGET_S="40")
    env.update(SR_KERNELS_VALIDATE_RESULTS=str(tmp_path / "results"))
    env.update(SR_KERNELS_VALIDATE_WORK=str(tmp_path / "work"))
    env.update(SR_KERNELS_VALIDATE_ONLY="tests-rest", SR_KERNELS_VALIDATE_ENABLE="tests-rest")
    env.update(SR_KERNELS_VALIDATE_SKIP="install install-jit ext env")
    result = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120
    )
    log = result.stdout
    assert result.returncode == 0, log + result.stderr
    assert "tests-rest: skipped, out of time budget" in log
    assert log.index("info: exit") < log.index("snapshot: the work folder") < log.index("report:")
    with tarfile.open(out / "validate-work.tar.gz") as archive:
        assert "./info.log" in archive.getnames()
    assert any(p.suffix == ".md" for p in out.iterdir())
    assert not list(out.glob(".*.part"))


def _k_of(argv: str) -> str:
    words = shlex.split(argv)
    return words[words.index("-k") + 1]


def test_gpu_validate_plan_runs_by_priority_within_the_budget(tmp_path: Path):
    plan, runs = _dry_run(tmp_path)
    stages = plan["stages"]
    assert [s["name"] for s in stages] == PLAN_ORDER
    priorities = [s["priority"] for s in stages]
    assert priorities == sorted(priorities)
    on = [s for s in stages if s["state"] == "on"]
    assert [s["name"] for s in stages if s not in on] == ["tests-rest"]  # CI runs it
    # Every share is held for its stage: together they fit in the budget less the reserve.
    assert plan["budget_s"] == 560
    assert sum(s["share"] for s in on) + plan["reserve_s"] <= plan["budget_s"]
    # Priorities 1-3 (the measurements asked for) are held time; the rest runs on leftovers.
    assert all(s["share"] > 0 for s in on if 1 <= s["priority"] <= 3)
    assert all(s["share"] == 0 for s in on if s["priority"] == 4)
    # The run follows the plan (install-jit only runs when install fails); a dry run assumes
    # every stage uses its share, which leaves the stages on left-over time (share 0) less than
    # the least they start with: they are skipped.
    held = [s["name"] for s in on if s["share"] > 0]
    assert [name for name, run in runs.items() if not run["skipped"]] == held
    skipped = (tmp_path / "stages.tsv").read_text()
    leftover = [s["name"] for s in on if not s["share"] and s["name"] != "install-jit"]
    assert leftover and all(f"{name}\tskipped: out of time" in skipped for name in leftover)
    for name, run in runs.items():
        assert run["limit"] >= run["share"], name
    assert "SR_KERNELS_IMRESIZE_FUSED=0" in runs["bench-imresize"]["argv"]
    assert "SR_KERNELS_IMRESIZE_FUSED=1" in runs["bench-imresize-fused"]["argv"]
    assert "SR_KERNELS_IMRESIZE_RUNS=0" in runs["bench-imresize-noruns"]["argv"]
    assert "torch.compile" in _k_of(runs["bench-compile"]["argv"])
    # The sweep writes its JSON into the work folder (archived) and stops 10 s before its limit.
    sweep = shlex.split(runs["sweep-conv"]["argv"])
    assert sweep[sweep.index("--out") + 1] == str(tmp_path / "sweep-conv.json")
    assert int(sweep[sweep.index("--budget-s") + 1]) == runs["sweep-conv"]["limit"] - 10
    assert "not torch.compile" in _k_of(runs["bench-resblock"]["argv"])
    assert not (tmp_path / "bench-resblock.log").exists()  # nothing ran
    # Test stages run on up to 8 processes (at most the cores), each with a share of the CPU
    # threads; benchmarks run in one.
    cores = len(os.sched_getaffinity(0))
    workers = min(8, cores)
    for name in ["tests-imresize", "tests-metrics", "tests-conv"]:
        argv = shlex.split(runs[name]["argv"])
        if workers > 1 and importlib.util.find_spec("xdist"):
            assert argv[argv.index("-n") + 1] == str(workers), argv
            threads = max(1, cores // workers)
            assert f"OMP_NUM_THREADS={threads}" in argv[: argv.index("-m")], argv
        else:
            assert "-n" not in argv, argv
    assert all("-n" not in shlex.split(runs[name]["argv"]) for name in runs if "bench" in name)


def test_gpu_validate_knobs_scale_enable_and_skip(tmp_path: Path):
    plan, runs = _dry_run(
        tmp_path,
        SR_KERNELS_VALIDATE_BUDGET_S="300",
        SR_KERNELS_VALIDATE_ENABLE="tests-rest",
        SR_KERNELS_VALIDATE_SKIP="bench-upsampler",
        SR_KERNELS_VALIDATE_SHARES="bench-compile=90/120",
        SR_KERNELS_VALIDATE_TEST_WORKERS="1",
    )
    by_name = {s["name"]: s for s in plan["stages"]}
    on = [s for s in plan["stages"] if s["state"] == "on"]
    assert sum(s["share"] for s in on) + plan["reserve_s"] <= 300
    # On, with share 0: it runs on time left over, of which a dry run assumes none.
    assert by_name["tests-rest"]["state"] == "on"
    assert "tests-rest\tskipped: out of time" in (tmp_path / "stages.tsv").read_text()
    assert by_name["bench-upsampler"]["state"].startswith("skipped")
    assert "bench-upsampler" not in runs
    assert by_name["bench-compile"]["max"] == 120
    assert by_name["bench-compile"]["share"] > by_name["bench-resblock"]["share"]
    assert [s["name"] for s in plan["stages"]] == PLAN_ORDER
    assert "-n" not in shlex.split(runs["tests-conv"]["argv"])  # one process, as asked


@pytest.mark.parametrize("value", ["auto", "lots", "1"])
def test_gpu_validate_test_workers_knob(tmp_path: Path, value: str):
    # auto: one per core; a value that is not a number: one process, said, and the run goes on.
    if importlib.util.find_spec("xdist") is None:
        pytest.skip("pytest-xdist is not installed")
    _, runs = _dry_run(tmp_path, SR_KERNELS_VALIDATE_TEST_WORKERS=value)
    argv = shlex.split(runs["tests-conv"]["argv"])
    cores = len(os.sched_getaffinity(0))
    if value == "auto" and cores > 1:
        assert argv[argv.index("-n") + 1] == str(cores), argv
    else:
        assert "-n" not in argv, argv
    assert runs["bench-resblock"]["share"] > 0  # the plan is intact


_COLLECT_EACH = """
import json, sys
import pytest
for args in json.loads(sys.argv[1]):
    print("=== selection", flush=True)
    pytest.main([*args, "-m", "cuda", "--collect-only", "-q", "-p", "no:cacheprovider",
                 "--benchmark-only"])
"""


def _collected_cuda_benchmarks(selections: list[list[str]]) -> list[list[str]]:
    """The `cuda` benchmark rows each pytest argument list collects, as a GPU-less validation
    run would: one process for all of them (each process spent ~10 s importing torch)."""
    env = {**os.environ, "SR_KERNELS_BUILD_EXT": "0"}
    result = subprocess.run(
        [sys.executable, "-c", _COLLECT_EACH, json.dumps(selections)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    outputs = result.stdout.split("=== selection\n")[1:]
    assert len(outputs) == len(selections), result.stdout[-2000:]
    return [[line for line in out.splitlines() if "::" in line] for out in outputs]


@pytest.mark.slow
def test_gpu_validate_conv_selections_split_the_gpu_rows(tmp_path: Path):
    # Every GPU row of the conv benchmarks is measured by exactly one stage.
    _, runs = _dry_run(tmp_path)
    files = ["bench/bench_resblock.py", "bench/bench_upsampler.py"]
    stage_files = {
        "bench-resblock": files[:1],
        "bench-upsampler": files[1:],
        "bench-compile": files[:1],
        "bench-conv-rest": files,
    }
    selections = [
        [*paths, "-k", _k_of(runs[stage]["argv"])] for stage, paths in stage_files.items()
    ]
    *stage_rows, every = _collected_cuda_benchmarks([*selections, files])
    picked = [row for rows in stage_rows for row in rows]
    assert len(every) > 100
    assert sorted(picked) == sorted(every)
    compile_rows = stage_rows[list(stage_files).index("bench-compile")]
    assert len(compile_rows) == 4
    assert all("nhwc" in row and "torch.compile" in row for row in compile_rows)


# ---------------------------------------------------------------------------------------------
# bench/ helpers


@pytest.fixture
def bench_modules(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import _roofline
    import _workloads

    return _workloads, _roofline


_ALLOCATOR_PROBE = """
import ctypes, sys, torch
sys.path.insert(0, sys.argv[1])
import _harness
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
print(_harness.keep_freed_memory())
for _ in range(3):
    blocks = [torch.empty(4 << 20).fill_(1.0) for _ in range(3)]  # 3 x 16 MiB alive at once
    del blocks
print(libc.mallinfo2().fordblks)
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="keep_freed_memory tunes glibc's malloc (Linux with glibc only)",
)
def test_cpu_benchmarks_keep_freed_memory():
    """After `keep_freed_memory`, freed multi-MB blocks stay in the process (malloc's free bytes)
    instead of going back to the OS to fault in again on the next call. With glibc's defaults
    the same probe keeps 17 MiB in some runs, 97 MiB in others (its mmap threshold moves)."""
    result = subprocess.run(
        [sys.executable, "-c", _ALLOCATOR_PROBE, str(BENCH)],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    allocator, free_bytes = result.stdout.strip().splitlines()[-2:]
    assert "freed memory kept" in allocator
    assert int(free_bytes) >= 3 * (16 << 20), result.stdout


def test_module_baselines_build_their_layers_once(bench_modules):
    import _baselines

    built = []

    def prepare(x, w, b):
        built.append(w.shape)
        conv = _baselines.conv2d_module(w, b, "replicate")
        return lambda: conv(x)

    baseline = _baselines.nn_modules(prepare, "nn.Conv2d")
    x, w, b = torch.rand(2, 3, 7, 9), torch.rand(5, 3, 3, 3) - 0.5, torch.rand(5)
    call = baseline.bind(x, w, b)
    expected = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (1,) * 4, "replicate"), w, b)
    with torch.no_grad():
        for _ in range(2):
            torch.testing.assert_close(call(), expected)
    assert len(built) == 1  # built by bind, not per timed call
    assert baseline.unavailable_reason("cuda") and baseline.unavailable_reason("cpu") is None
    assert _baselines.Baseline("scale", lambda a, k: a * k).bind(3, 2)() == 6


def test_roofline_costs(bench_modules):
    workloads, roofline = bench_modules
    ps = workloads.PIXEL_SHUFFLE_EDSR_PATCH_B16_48X48
    numel = 16 * 256 * 48 * 48
    assert roofline.copy_cost(ps.input_shape, torch.float16) == roofline.Cost(2 * numel * 2, 0)
    conv = workloads.CONV_X4_270X480
    cost = roofline.conv2d_cost(1, 64, 64, 270, 480, torch.bfloat16)
    assert cost.flops == 18 * 64 * 64 * 270 * 480
    assert cost.bytes == (2 * 64 * 270 * 480 + 64 * 64 * 9 + 64) * 2
    assert conv.output_shape == (1, 64, 270, 480)
    fused = roofline.resblock_fused_cost(1, 64, 270, 480, torch.bfloat16)
    # Fused: the FLOPs of two convs, the activation traffic of one (plus the second weights).
    assert fused.flops > 2 * cost.flops
    assert fused.bytes == cost.bytes + (64 * 64 * 9 + 64) * 2
    assert roofline.resblock_unfused_cost(1, 64, 270, 480, torch.bfloat16).bytes > fused.bytes
    assert roofline.psnr_cost((2, 3, 4, 5), torch.uint8).bytes == 2 * 120
    assert roofline.gbps(roofline.Cost(2e9), 0.5) == pytest.approx(4.0)
    assert roofline.tflops(roofline.Cost(1, 3e12), 1.5) == pytest.approx(2.0)
    down = workloads.DIV2K_X4_DOWN_GPU
    assert down.input_shape == (16, 3, 1356, 2040) and down.output_shape == (16, 3, 339, 510)
    resize = roofline.resize_cost(down.input_shape, down.output_shape, torch.uint8)
    assert resize.bytes == 16 * 3 * (1356 * 2040 + 339 * 510)


def test_describe_plain_lets_reports_compare_a_direct_benchmark(bench_modules):
    # The training-step / x4 benchmarks time with pytest-benchmark directly (GPU only).
    import types

    import _harness

    group = "resblock_train_step/edsr_patch_b16_48x48/amp_bf16/nhwc/cpu"
    entries = []
    for impl, median in (("ours", 1e-3), ("eager", 3e-3)):
        fake = types.SimpleNamespace(group=None, extra_info={})
        _harness.describe_plain(fake, group, impl, primary_baseline=impl == "eager")
        assert fake.group == group and fake.extra_info["workload"] == "edsr_patch_b16_48x48"
        entries.append(
            {"group": fake.group, "extra_info": fake.extra_info, "stats": {"median": median}}
        )
    benchmarking.annotate_speedups(entries)
    (ours,) = [r for r in benchmarking.rows_from_benchmarks(entries) if r.role == "ours"]
    assert ours.baseline == "eager" and ours.speedup == pytest.approx(3.0)
    assert ours.timer == _harness.PLAIN_TIMER


def test_gpu_rows_not_timed_by_cuda_events_are_marked():
    group = "upsampler_x4/x4_270x480_to_1080p/bf16/nhwc/cuda"
    wall = "pytest-benchmark median of host-synchronised calls (wall clock, L2 not flushed)"
    events = "cuda-events do_bench median (L2 flushed)"
    entries = [
        _entry(group, "ours", "ours", 1e-3, timer=wall),
        _entry(group, "eager", "baseline", 2e-3, primary=True, timer=wall),
        _entry(G1, "ours:auto", "ours", 1e-4, timer=events),
        _entry(G1, "torch", "baseline", 2e-4, primary=True, timer=events),
        _entry(G2, "ours:cuda", "ours", 2e-3),  # results before timers were recorded
        _entry(G2, "cudnn", "baseline", 3e-3, primary=True),
    ]
    benchmarking.annotate_speedups(entries)
    table = benchmarking.markdown_table(benchmarking.rows_from_benchmarks(entries))
    lines = {line.split("`")[1]: line for line in table.splitlines() if line.startswith("| `")}
    mark = benchmarking.WALL_CLOCK_MARK
    assert f"| 1.000 ms {mark} |" in lines[group]
    assert mark not in lines[G1] and mark not in lines[G2]
    report = benchmarking.markdown_report(benchmarking.rows_from_benchmarks(entries), "t")
    assert f"marked {mark}: the median of pytest-benchmark rounds" in report


def test_assert_input_layout_follows_the_input_not_the_baseline(bench_modules):
    import _harness

    x = torch.rand(1, 8, 3, 5).contiguous(memory_format=torch.channels_last)
    _harness.assert_input_layout(
        torch.rand(1, 2, 6, 10).contiguous(memory_format=torch.channels_last), x
    )
    with pytest.raises(AssertionError, match="not torch.channels_last"):
        _harness.assert_input_layout(torch.rand(1, 2, 6, 10), x)
    _harness.assert_input_layout(torch.rand(1, 2, 6, 10), x.contiguous())


def test_traced_backends_names_what_served_the_op(bench_modules):
    import _harness

    from sr_kernels import ops

    x = torch.rand(1, 8, 3, 5)
    with ops.use_backend("reference"):
        out, backend = _harness.traced_backends("pixel_shuffle", lambda: ops.pixel_shuffle(x, 2))
    assert out.shape == (1, 2, 6, 10) and backend == "reference"
    with pytest.raises(AssertionError, match="pixel_shuffle did not run"):
        _harness.traced_backends("pixel_shuffle", lambda: x * 2)
    import types

    fake = types.SimpleNamespace(group=None, extra_info={})
    group = "upsampler_x4/w/bf16/nhwc/cpu"
    _harness.describe_plain(fake, group, "ours", primary_baseline=False, backend="cuda+triton")
    assert fake.extra_info["backend"] == "cuda+triton" and fake.extra_info["impl"] == "ours"


def test_spec_peaks_match_device_names(bench_modules):
    _, roofline = bench_modules
    assert roofline.spec_peaks("NVIDIA H100 80GB HBM3").bandwidth == pytest.approx(3.35e12)
    assert roofline.spec_peaks("NVIDIA H100 PCIe").bf16_flops == pytest.approx(756e12)
    assert roofline.spec_peaks("NVIDIA H200").bandwidth == pytest.approx(4.8e12)
    assert roofline.spec_peaks("Some CPU") is None


def test_workload_names_are_unique_per_device_and_inputs_are_random(bench_modules):
    workloads, _ = bench_modules
    seen, labels = set(), set()
    for workload in workloads.ALL:
        for device in workload.devices:
            key = (type(workload).__name__, workload.name, device)
            direction = getattr(workload, "direction", None)
            assert (key, direction) not in seen, key
            seen.add((key, direction))
            # The label is the group's workload part: one group per workload and device.
            assert (type(workload).__name__, workload.label, device) not in labels, key
            labels.add((type(workload).__name__, workload.label, device))
    assert workloads.DIV2K_X4_UP_GPU.label == "div2k_2040x1356_x4_up"
    x = workloads.PIXEL_SHUFFLE_EDSR_PATCH_B16_48X48.make_input(torch.uint8, "nhwc", "cpu")
    assert x.is_contiguous(memory_format=torch.channels_last) and x.unique().numel() > 200


@pytest.mark.slow
def test_sr_kernels_bench_runs_a_small_selection_end_to_end(tmp_path: Path, monkeypatch):
    # Rows that need no compiled extension (the reference backend and ATen), one group.
    monkeypatch.setenv("SR_KERNELS_BUILD_EXT", "0")
    monkeypatch.setenv("SR_KERNELS_BENCH_CPU_TARGET_S", "0.01")
    argv = ["bench", "--bench-dir", str(BENCH), "--out", str(tmp_path), "--name", "run"]
    argv += ["-k", "edsr_patch_b16_48x48-u8-nhwc-cpu and (torch or reference)"]
    argv += ["--", "--benchmark-min-rounds=1", "-p", "no:logging"]
    assert cli_main.main(argv) == 0
    data = json.loads((tmp_path / "run.json").read_text())
    impls = {b["extra_info"]["impl"]: b["extra_info"] for b in data["benchmarks"]}
    assert set(impls) == {"ours:reference", "torch"}
    ours = impls["ours:reference"]
    assert ours["backend"] == "reference" and ours["baseline"] == "torch"
    assert ours["speedup"] > 0 and ours["gbps"] > 0 and ours["checked_against"] == "torch"
    assert data["benchmarks"][0]["group"] == "pixel_shuffle/edsr_patch_b16_48x48/u8/nhwc/cpu"
    md = (tmp_path / "run.md").read_text()
    assert "| `pixel_shuffle/edsr_patch_b16_48x48/u8/nhwc/cpu` | ours:reference |" in md
    assert (tmp_path / "run-speedups.png").read_bytes().startswith(PNG_MAGIC)
    assert (tmp_path / "run-roofline.png").read_bytes().startswith(PNG_MAGIC)


def test_a_run_whose_report_fails_keeps_its_results(tmp_path: Path, monkeypatch, capsys):
    """The measurements outlive a failed chart (e.g. matplotlib broken): the JSON is kept, the
    error says how to draw it later, and no old report of the stem is left beside it."""
    monkeypatch.setenv("SR_KERNELS_BUILD_EXT", "0")
    monkeypatch.setenv("SR_KERNELS_BENCH_CPU_TARGET_S", "0.01")
    (tmp_path / "run.md").write_text("an earlier run's table")

    def broken_chart(*args, **kwargs):
        raise ImportError("matplotlib is broken here")

    monkeypatch.setattr(benchmarking, "plot_speedups", broken_chart)
    argv = ["bench", "--bench-dir", str(BENCH), "--out", str(tmp_path), "--name", "run"]
    argv += ["--force", "-k", "edsr_patch_b16_48x48-u8-nhwc-cpu and torch"]
    argv += ["--", "--benchmark-min-rounds=1", "-p", "no:logging"]
    assert cli_main.main(argv) == 1
    err = capsys.readouterr().err
    assert "drawing the report failed (ImportError: matplotlib is broken here)" in err
    assert "sr-kernels bench --from-json" in err
    data = json.loads((tmp_path / "run.json").read_text())
    assert data["benchmarks"] and data["benchmarks"][0]["extra_info"]["impl"] == "torch"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_bench_names_missing_test_extras_before_running(tmp_path: Path, monkeypatch, capsys):
    assert benchmarking.missing_modules("json", "no_such_module_sr") == ["no_such_module_sr"]
    monkeypatch.setattr(benchmarking, "missing_modules", lambda *names: ["matplotlib"])
    assert benchmarking.run_suite(bench_dir=BENCH, out_dir=tmp_path / "out") == 2
    assert "pip install 'sr_kernels[test]'" in _one_line_error(capsys, "sr-kernels bench needs")
    source = tmp_path / "results.json"
    source.write_text(json.dumps(_synthetic()))
    assert cli_main.main(["bench", "--from-json", str(source), "--out", str(tmp_path)]) == 2
    assert "needs matplotlib" in _one_line_error(capsys, "sr-kernels bench --from-json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


# ---------------------------------------------------------------------------------------------
# bench/profile_kernels.py (its CPU mode: the GPU run only changes the device and the sizes)


def test_profile_kernels_lists_every_case_with_its_op():
    result = subprocess.run(
        [sys.executable, str(BENCH / "profile_kernels.py"), "--device", "cpu", "--small"]
        + ["--only", "imresize", "--repeats", "2"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    blocks = [block for block in result.stdout.split("\n\n") if block.strip()]
    # x4 down and up, nchw and nhwc, two-pass and fused
    assert len(blocks) == 8, result.stdout
    for block in blocks:
        header, *rows = block.strip().splitlines()
        assert header.startswith("imresize x4 ") and " us per call, " in header, header
        assert any(row.strip().startswith("1 x") and "sr_kernels::imresize" in row for row in rows)


def test_profile_kernels_needs_a_gpu_for_cuda():
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    result = subprocess.run(
        [sys.executable, str(BENCH / "profile_kernels.py")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 2 and "no CUDA GPU visible" in result.stdout
