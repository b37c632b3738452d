"""`sr-kernels tune`: measuring backends, writing the table, and the choice following it."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest
import torch

from sr_kernels import ops
from sr_kernels.cli.main import main
from sr_kernels.ops import _backend_timings as timings
from sr_kernels.ops import _registry
from sr_kernels.tools import tune_backends

CPU_REASON = _registry.backend_reason("cpu", "cpu")
needs_cpu_backend = pytest.mark.skipif(CPU_REASON is not None, reason=f"cpu: {CPU_REASON}")
CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def _isolated_tables(monkeypatch, tmp_path):
    monkeypatch.setattr(timings, "shipped_path", lambda: tmp_path / "none.json")
    monkeypatch.setenv("SR_KERNELS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(timings.ENV_VAR, "")
    _registry.reload_backend_timings()
    yield
    monkeypatch.undo()
    _registry.reload_backend_timings()


def small_workloads():
    return [
        tune_backends._pixel_shuffle("pixel_shuffle", (1, 16, 6, 10), "float32", False),
        tune_backends._metric("psnr_mse", (2, 3, 20, 24), "uint8", True, True),
    ]


@needs_cpu_backend
def test_tune_times_every_backend_and_writes_the_case_the_op_dispatches(tmp_path):
    out = tmp_path / "t.json"
    measurements = tune_backends.tune(
        small_workloads(), CPU, out, min_time_s=1e-3, rounds=2, progress=False
    )
    assert [sorted(m.seconds) for m in measurements] == [["cpu", "reference"]] * 2
    assert all(s > 0 for m in measurements for s in m.seconds.values())
    assert [m.fixed_choice for m in measurements] == ["cpu", "cpu"]
    data = json.loads(out.read_text())
    assert data["format"] == timings.FORMAT and len(data["entries"]) == 2
    # The recorded case is the one the public op dispatches with.
    x = torch.rand(1, 16, 6, 10)
    case = timings.case_of("pixel_shuffle", _registry.tensor_meta(x))
    assert {entry.case for entry in timings.read_table(out)} >= {case}
    psnr = next(e for e in data["entries"] if e["op"] == "psnr_mse")
    assert psnr["sizes"] == {"hr_channels_last": True, "y_channel": True}
    assert psnr["channels_last"] is True and psnr["dtype"] == "uint8"
    # The table lists the backends fastest first; the choice is the fastest but for ties.
    m = measurements[0]
    fastest = timings.read_table(out)[0].seconds[0][0]
    assert fastest == min(m.seconds, key=m.seconds.__getitem__)
    if m.seconds["reference"] < m.seconds["cpu"] / (1 + timings.TIE):
        assert m.choice == "reference"
    else:
        assert m.choice == "cpu"
    # Measuring again replaces the cases, it does not add to them.
    tune_backends.tune(small_workloads()[:1], CPU, out, min_time_s=1e-3, rounds=1, progress=False)
    assert len(json.loads(out.read_text())["entries"]) == 2
    assert "| pixel_shuffle r=2 1x16x6x10 nchw | float32 |" in tune_backends.summary_table(
        measurements
    )


@needs_cpu_backend
def test_the_choice_follows_a_tuned_table(tmp_path, monkeypatch):
    """A table from the tuner, edited so the reference is the fastest: the op then runs it."""
    out = tmp_path / "t.json"
    tune_backends.tune(small_workloads()[:1], CPU, out, min_time_s=1e-3, rounds=1, progress=False)
    data = json.loads(out.read_text())
    data["entries"][0]["seconds"] = {"reference": 1e-6, "cpu": 1e-3}
    out.write_text(json.dumps(data))
    monkeypatch.setenv(timings.ENV_VAR, str(out))
    _registry.reload_backend_timings()
    with ops.trace() as events:
        ops.pixel_shuffle(torch.rand(1, 16, 6, 10), 2)
    assert events == [("pixel_shuffle", "reference")]


def test_a_file_that_is_not_a_table_is_never_replaced(tmp_path, capsys):
    precious = tmp_path / "notes.json"
    precious.write_text('{"mine": 1}')
    with pytest.raises(ValueError, match="not replaced"):
        tune_backends.tune(small_workloads(), CPU, precious, progress=False)
    assert main(["tune", "--device", "cpu", "--ops", "pixel_shuffle", "--out", str(precious)]) == 2
    assert "not replaced" in capsys.readouterr().err
    assert precious.read_text() == '{"mine": 1}'
    assert main(["tune", "--device", "cpu", "--ops", "pixel_shuffle", "--out", str(tmp_path)]) == 2
    assert "folder" in capsys.readouterr().err


def test_cli_lists_the_cases(capsys):
    assert main(["tune", "--device", "cpu", "--ops", "imresize", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # Listed whether or not the extension is built: the cases depend on the op's backends on
    # the device (cpu and reference for imresize), not on which of them load here.
    assert [line.split()[1] for line in lines] == ["x1/4", "x4"] * 4  # layouts x dtypes


def test_cli_argument_errors(capsys):
    with pytest.raises(SystemExit):
        main(["tune", "--rounds", "0"])
    assert "--rounds" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["tune", "--min-time", "nan"])
    assert "--min-time: must be a finite number > 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["tune", "--ops", "no_such_op"])
    with pytest.raises(SystemExit):  # C = 100000 used to allocate until it failed (360 GB)
        main(["tune", "--channels", "64", "100000"])
    assert "--channels: must be at most 1024, got 100000" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["tune", "--device", "cuda"]) == 2
        assert "no CUDA device" in capsys.readouterr().err


def test_conv_cases_are_not_listed_where_only_one_backend_runs_them():
    workloads = tune_backends.default_workloads("cpu", ("residual_block", "conv2d_act"))
    # On the CPU conv2d_act has the reference alone; residual_block also the extension's cpu.
    assert workloads and {w.op for w in workloads} == {"residual_block"}
    gpu = tune_backends.default_workloads("cuda", ("residual_block",), channels=(64,))
    assert [w.dtype for w in gpu] == ["bfloat16"] * 2 + ["float16"] * 2 + ["float32"] * 2
    # Each convolution case twice: cuDNN (the reference) with its autotuner off, then on.
    assert [w.cudnn_benchmark for w in gpu] == [False, True] * 3
    others = tune_backends.default_workloads("cuda", ("pixel_shuffle", "imresize"))
    assert others and {w.cudnn_benchmark for w in others} == {None}
    # A time-limited GPU run measures the targets first: the half-precision EDSR
    # blocks and upsamplers at every C (each under both cuDNN settings) before anything else.
    first = tune_backends.default_workloads("cuda")[:24]
    assert {w.op for w in first} == {"residual_block", "conv_pixel_shuffle"}
    assert {w.dtype for w in first} == {"bfloat16", "float16"}


@needs_cpu_backend
def test_measure_runs_under_the_workloads_cudnn_setting_and_restores_it():
    base = small_workloads()[0]
    seen = []

    def make(device):
        call = base.make(device)

        def run():
            seen.append(torch.backends.cudnn.benchmark)
            return call()

        return run

    before = torch.backends.cudnn.benchmark
    workload = dataclasses.replace(base, make=make, cudnn_benchmark=not before)
    tune_backends.measure(workload, CPU, min_time_s=1e-4, rounds=1)
    assert seen and set(seen) == {not before}
    assert torch.backends.cudnn.benchmark == before


@needs_cpu_backend
def test_cli_tunes_into_the_user_table_by_default(tmp_path, capsys):
    assert (
        main(
            [
                "tune",
                "--device",
                "cpu",
                "--ops",
                "imresize",
                "--dtypes",
                "uint8",
                "--min-time",
                "0.001",
                "--rounds",
                "1",
            ]
        )
        == 0
    )
    user = timings.user_path()
    assert user.parent == tmp_path / "cache" and user.exists()
    assert {entry.case.op for entry in timings.read_table(user)} == {"imresize"}
    assert "4 of 4 cases timed" in capsys.readouterr().out  # (down, up) x (nhwc, nchw)
    assert len(timings.entries()) == 4  # the registry reads it (tune reloads the tables)


@pytest.mark.cuda
def test_tune_on_the_gpu_measures_cuda_and_triton(tmp_path):
    workloads = [tune_backends._residual_block(16, (8, 12), "float16")]
    (m,) = tune_backends.tune(
        workloads,
        torch.device("cuda"),
        tmp_path / "t.json",
        min_time_s=1e-3,
        rounds=2,
        progress=False,
    )
    assert {"cuda", "triton", "reference"} <= set(m.seconds) | set(m.unavailable)
    assert len(m.seconds) >= 2 and m.case is not None and m.case.arch.startswith("sm_")


def test_merge_combines_tables_later_cases_replacing_earlier_ones(tmp_path, capsys):
    def table(path, *records):
        path.write_text(json.dumps({"format": timings.FORMAT, "entries": list(records)}))
        return path

    def record(dtype, **seconds):
        return {"op": "pixel_shuffle", "arch": "sm_90", "dtype": dtype, "channels_last": True,
                "sizes": {}, "seconds": seconds}  # fmt: skip

    a = table(tmp_path / "a.json", record("float16", cuda=1.0, triton=2.0),
              record("float32", cuda=1.0, triton=2.0))  # fmt: skip
    b = table(tmp_path / "b.json", record("float16", triton=1.0, cuda=2.0))
    out = tmp_path / "shipped.json"
    assert main(["tune", "--merge", str(a), str(b), "--out", str(out)]) == 0
    assert "merged 3 cases" in capsys.readouterr().out
    entries = {e.case.dtype: e.seconds[0][0] for e in timings.read_table(out)}
    assert entries == {"float16": "triton", "float32": "cuda"}
    assert len(json.loads(out.read_text())["entries"]) == 2  # one record per case
    # A source that is not a table: nothing written, the error names it.
    before = out.read_text()
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    assert main(["tune", "--merge", str(a), str(bad), "--out", str(out)]) == 2
    assert "bad.json" in capsys.readouterr().err
    assert out.read_text() == before
    # Nor are --out's folders made for a merge that fails on its sources.
    nested = tmp_path / "new" / "folder" / "t.json"
    assert main(["tune", "--merge", str(tmp_path / "missing.json"), "--out", str(nested)]) == 2
    assert "missing.json" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_merge_keeps_a_symlink_and_a_readable_mode(tmp_path):
    source = tmp_path / "a.json"
    source.write_text(json.dumps({"format": timings.FORMAT, "entries": []}))
    target = tmp_path / "shared.json"
    target.write_text(json.dumps({"format": timings.FORMAT, "entries": []}))
    target.chmod(0o644)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert main(["tune", "--merge", str(source), "--out", str(link)]) == 0
    assert link.is_symlink() and (target.stat().st_mode & 0o777) == 0o644
    fresh = tmp_path / "new" / "t.json"
    assert main(["tune", "--merge", str(source), "--out", str(fresh)]) == 0
    assert (fresh.stat().st_mode & 0o777) == 0o644  # not the temporary file's 0600
    assert sorted(p.name for p in fresh.parent.iterdir()) == ["t.json"]


def test_an_out_that_cannot_be_written_is_refused_before_measuring(capsys):
    if not Path("/proc/self").is_dir():
        pytest.skip("needs /proc (Linux): a folder no one can write to, even root")
    assert main(["tune", "--device", "cpu", "--ops", "imresize", "--out", "/proc/t.json"]) == 2
    assert "cannot write in /proc" in capsys.readouterr().err


def test_an_out_below_a_file_is_refused_with_that_reason(tmp_path, capsys):
    (tmp_path / "a_file").write_text("x")
    out = tmp_path / "a_file" / "t.json"
    assert main(["tune", "--device", "cpu", "--ops", "imresize", "--out", str(out)]) == 2
    assert f"{tmp_path / 'a_file'} is not a folder" in capsys.readouterr().err


@needs_cpu_backend
def test_an_interrupted_tune_keeps_its_cases_and_exits_130(tmp_path, monkeypatch, capsys):
    real_measure = tune_backends.measure
    calls = []

    def measure_then_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_measure(*args, **kwargs)

    monkeypatch.setattr(tune_backends, "measure", measure_then_interrupt)
    out = tmp_path / "t.json"
    argv = ["tune", "--device", "cpu", "--ops", "imresize", "--out", str(out)]
    assert main(argv + ["--min-time", "0.001", "--rounds", "1"]) == 130
    assert "interrupted after 1 of 8 cases" in capsys.readouterr().out
    assert len(timings.read_table(out)) == 1


def test_every_op_with_a_choice_on_the_gpu_has_tuning_cases():
    """A new op with two GPU backends gets workloads in tune_backends (CONTRIBUTING: adding an
    op), or the automatic choice would never use measurements for it; an op registered with
    `timings_op` (psnr) uses that op's."""
    choosable = {_registry.timings_op(op) for op in _registry.registered_ops()
                 if len(_registry.candidate_backends(op, "cuda")) > 1}  # fmt: skip
    assert choosable == set(tune_backends.TUNABLE_OPS)
    listed = {w.op for w in tune_backends.default_workloads("cuda")}
    assert listed == choosable


def test_conv_weights_are_channels_last_as_models_keep_them():
    # NCHW weights would time a weight copy per call that no model (and no benchmark) pays.
    w, b = tune_backends._conv_weights(32, 16, 3, torch.bfloat16, CPU)
    assert w.shape == (32, 16, 3, 3) and w.dtype == torch.bfloat16
    assert w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous()
    assert b.shape == (32,) and b.abs().max() > 0


def test_the_first_round_warms_up_and_is_not_counted(monkeypatch):
    # A function slow for its first three calls (a cold start): the sizing takes two of them,
    # the uncounted round the third, so the one counted round sees it fast. A fake clock the
    # calls advance keeps wall-clock time out of the assertion.
    calls = []
    clock = [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])

    def cold_start() -> None:
        calls.append(None)
        clock[0] += 0.05 if len(calls) <= 3 else 1e-6

    seconds = tune_backends.interleaved_medians({"f": cold_start}, CPU, min_time_s=0.01, rounds=1)
    assert len(calls) == 4
    assert seconds["f"] == pytest.approx(1e-6), seconds
