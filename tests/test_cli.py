"""The `sr-kernels` command line: env, env --kernels and demo, run in-process through main()."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from sr_kernels import _ext
from sr_kernels.cli import demo
from sr_kernels.cli.main import main
from sr_kernels.ops import _backend_timings, _registry
from sr_kernels.tools import kernel_resources

ROOT = Path(__file__).resolve().parents[1]


def test_env_reports_versions_backends_and_extension(capsys):
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    for line in ("Versions", "python", "torch", "triton", "GPU", "Backends", "Extension"):
        assert line in out
    assert f"torch       {torch.__version__}" in out
    assert "reference  available" in out
    if not torch.cuda.is_available():
        assert "devices  none visible" in out
    if _ext.info().loaded:
        assert f"loaded        yes ({_ext.info().how})" in out
        isa = torch.ops.sr_kernels.imresize_cpu_isa()
        assert f"CPU kernels   {isa} instructions for imresize" in out
        assert "cpu        available" in out
    else:
        # the section's keys set the column width: "loaded" alone when nothing else is listed
        assert re.search(r"loaded +no: ", out), out
    if _registry.triton_interpreting():
        assert "triton     available (interpreter" in out
    if _ext.info().loaded and _ext.info().with_cuda:
        assert "CUDA kernels  yes, " in out and "sm_80" in out and "sm_90" in out
        wgmma = "sm_90 code is sm_90a: the wgmma kernels" in out
        assert wgmma == torch.ops.sr_kernels.built_with_sm90a()
        if not torch.cuda.is_available():
            assert "they cannot run here" in out


def _env_output(**settings: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "sr_kernels", "env"],
        cwd=ROOT, env={**os.environ, **settings}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "the compiled extension is not loaded" not in result.stderr  # said in the table
    return result.stdout


def test_env_names_unknown_environment_settings():
    """A typo in SR_KERNELS_BUILD_EXT leaves the extension unloaded with the reason (it used to
    count as auto and start a build); an unknown SR_KERNELS_CPU_ISA is reported as ignored."""
    out = _env_output(SR_KERNELS_BUILD_EXT="false")
    assert "SR_KERNELS_BUILD_EXT must be auto, 0 or 1, got 'false'" in out
    if _ext.info().loaded:
        assert (
            "SR_KERNELS_CPU_ISA must be auto, avx2 or base, got 'garbage'; the kernels ignore it"
            in _env_output(SR_KERNELS_CPU_ISA="garbage")
        )


def test_env_kernels_table(capsys, monkeypatch):
    # The command compiles every Triton configuration for two archs (minutes on 2 cores), which
    # tests/test_static_gpu.py checks already: here the table is made from one module's.
    every_module = kernel_resources.triton_kernel_resources
    one_module = functools.partial(every_module, modules=["sr_kernels.ops.triton.pixel_shuffle"])
    monkeypatch.setattr(kernel_resources, "triton_kernel_resources", one_module)
    assert main(["env", "--kernels"]) == 0
    out = capsys.readouterr().out
    assert "Kernel resources" in out
    table = out[out.index("Kernel resources") :]
    assert "triton  pixel_shuffle" in table
    for arch in ("sm_80", "sm_90"):
        assert arch in table
    if _ext.info().loaded and _ext.info().with_cuda:
        assert "cuda    sr::pixel_shuffle_kernel" in table


def test_demo_runs_each_available_step(capsys):
    assert main(["demo", "--size", "32", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "== cpu (CPU)" in out
    assert "FAILED" not in out
    lines = [
        line for line in out.splitlines() if line.split(" ")[0] in {s.target for s in demo.STEPS}
    ]
    devices = 2 if torch.cuda.is_available() else 1
    assert len(lines) == devices * len(demo.STEPS)
    for line in lines:
        assert (" ms  ran: " in line) or ("skipped: not in this version" in line), line
    expected_backend = "cpu" if _ext.info().loaded else "reference"
    assert f"ran: pixel_shuffle on {expected_backend}" in out
    assert f"ran: pixel_unshuffle on {expected_backend}" in out


@pytest.mark.parametrize("size", ["8", "10", "11", "13", "33", "-2", "big", "4098", "200000"])
def test_demo_size_too_small_too_large_or_odd_is_a_usage_error(size, capsys):
    """Sizes 8..11 passed the old check but SSIM needs 11x11 and pixel_unshuffle an even size:
    the demo then exited 1 with FAILED steps. Now argparse refuses them, naming --size."""
    with pytest.raises(SystemExit) as error:
        main(["demo", "--size", size, "--repeats", "1"])
    assert error.value.code == 2
    err = capsys.readouterr().err
    assert "argument --size" in err
    assert f"even integer from {demo.MIN_SIZE} to {demo.MAX_SIZE}" in err or (
        "must be an integer" in err
    )


def test_demo_repeats_below_one_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as error:
        main(["demo", "--repeats", "0"])
    assert error.value.code == 2
    assert "argument --repeats: must be at least 1" in capsys.readouterr().err


def test_demo_runs_at_its_minimum_size(capsys):
    assert main(["demo", "--size", str(demo.MIN_SIZE), "--repeats", "1", "--device", "cpu"]) == 0
    assert "FAILED" not in capsys.readouterr().out
    image = demo.make_image(demo.MIN_SIZE - 2, demo.MIN_SIZE - 2)
    ssim = next(step for step in demo.STEPS if step.target == "metrics.ssim")
    with pytest.raises(ValueError, match="11x11"):  # MIN_SIZE is the smallest that works
        demo.run_step(ssim, image, 1)


def test_demo_image_is_deterministic_rgb():
    first, second = demo.make_image(40, 24), demo.make_image(40, 24)
    assert first.shape == (1, 3, 40, 24) and first.dtype == torch.float32
    assert torch.equal(first, second)
    assert 0.0 <= first.min() and first.max() <= 1.0 and first.std() > 0.1


def test_demo_skips_what_does_not_exist():
    assert demo.resolve("ops.pixel_shuffle") is not None
    assert demo.resolve("ops.no_such_op") is None
    assert demo.resolve("no_such_module.f") is None
    line = demo.run_step(demo.Step("ops.no_such_op", "", lambda im: ((im,), {})), None, 1)  # type: ignore[arg-type]
    assert "skipped" in line


def test_python_dash_m_runs_the_cli():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-m", "sr_kernels", "env"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Backends" in result.stdout and "reference  available" in result.stdout


def test_unknown_subcommand_is_a_usage_error():
    with pytest.raises(SystemExit) as error:
        main(["no-such-command"])
    assert error.value.code == 2


def test_env_says_which_visible_gpus_have_no_timings(monkeypatch):
    # A GPU without timings of its own takes the nearest measured GPU's, and env says which; a
    # GPU with timings gets no such remark. (The tests run with the tables off: a table of two
    # sm_90 cases and one CPU case stands in for the shipped one.)
    from sr_kernels.cli import env

    def case(arch):
        return SimpleNamespace(case=SimpleNamespace(arch=arch))

    monkeypatch.setattr(_backend_timings, "entries", lambda: [case("sm_90")] * 2 + [case("cpu")])
    monkeypatch.setattr(_backend_timings, "sources", lambda: ["shipped.json"])
    line = env._timings_line(["sm_90", "sm_75"])
    assert line == (
        "measured backends fastest first: 3 cases (cpu, sm_90) from shipped.json; none for "
        "sm_75: sm_90's stand in (`sr-kernels tune` measures its own)"
    )
    assert env._timings_line(["sm_90"]) == env._timings_line([])
    assert "none for" not in env._timings_line(["sm_90"])
    # The same major version first (sm_86 is an Ampere like sm_80), then the nearest.
    monkeypatch.setattr(_backend_timings, "entries", lambda: [case("sm_80"), case("sm_90")])
    assert "none for sm_86: sm_80's stand in" in env._timings_line(["sm_86"])
    assert "none for sm_100: sm_90's stand in" in env._timings_line(["sm_100"])
    # Only CPU timings: a GPU gets the fixed order.
    monkeypatch.setattr(_backend_timings, "entries", lambda: [case("cpu")])
    assert "none for sm_90: the fixed order decides" in env._timings_line(["sm_90"])


def test_version(capsys):
    with pytest.raises(SystemExit) as error:
        main(["--version"])
    assert error.value.code == 0
    assert re.fullmatch(r"sr-kernels \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


def test_a_bad_forced_backend_is_refused_before_any_work(monkeypatch, capsys):
    """SR_KERNELS_BACKEND is read at every op call: a typo used to fail each demo step, or a
    whole tune run at its end. Now one line, status 2, nothing run; env reports it instead."""
    monkeypatch.setenv("SR_KERNELS_BACKEND", "bogus")
    for argv in (["demo", "--size", "12", "--repeats", "1"], ["tune", "--list"]):
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.startswith("error: SR_KERNELS_BACKEND must be 'auto' or one of")
        assert captured.err.count("\n") == 1
    assert "SR_KERNELS_BACKEND must be 'auto'" in _env_output(SR_KERNELS_BACKEND="bogus")


@pytest.mark.parametrize(
    "variable, value, expected",
    [
        ("SR_KERNELS_BUILD_EXT", "false", "SR_KERNELS_BUILD_EXT must be auto, 0 or 1, got 'false'"),
        ("SR_KERNELS_CPU_ISA", "sse", "SR_KERNELS_CPU_ISA must be auto, avx2 or base, got 'sse'"),
        # Taken for auto: a CUDA build of minutes the user meant to skip.
        ("SR_KERNELS_WITH_CUDA", "false", "SR_KERNELS_WITH_CUDA must be auto or 0, got 'false'"),
        # Read by the ops when they run: every automatic choice, or every Triton conv, failed.
        (
            "SR_KERNELS_BACKEND_TIMINGS",
            "/no/such/timings.json",
            "SR_KERNELS_BACKEND_TIMINGS: backend timings file /no/such/timings.json: cannot be "
            "read as JSON: [Errno 2] No such file or directory: '/no/such/timings.json'",
        ),
        (
            "SR_KERNELS_ALLOW_TF32",
            "yes",
            "SR_KERNELS_ALLOW_TF32 must be 0 or auto (or unset), got 'yes'",
        ),
    ],
)
def test_bad_extension_settings_are_refused_before_any_work(
    monkeypatch, capsys, variable, value, expected
):
    """A typo in these left every op on the reference, or the CPU kernels on their widest
    instructions, without a word outside `env`."""
    monkeypatch.setenv(variable, value)
    assert main(["demo", "--size", "12", "--repeats", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == f"error: {expected}\n"
    assert f"{expected} (the other commands refuse to run until it is fixed)" in _env_output(
        **{variable: value}
    )


def test_empty_settings_count_as_unset(monkeypatch, tmp_path):
    """As for SR_KERNELS_BACKEND: an empty SR_KERNELS_BUILD_EXT or SR_KERNELS_CPU_ISA was
    refused, and an empty SR_KERNELS_CACHE put the extension and the timings table into the
    current folder."""
    from sr_kernels import _ext
    from sr_kernels.cli.main import backend_setting_problem

    for variable in (
        "SR_KERNELS_BUILD_EXT",
        "SR_KERNELS_CPU_ISA",
        "SR_KERNELS_BACKEND",
        "SR_KERNELS_WITH_CUDA",
    ):
        monkeypatch.setenv(variable, "")
    assert backend_setting_problem() is None
    monkeypatch.setenv("SR_KERNELS_CACHE", "")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert _ext.cache_dir() == tmp_path / ".cache" / "sr_kernels"


@pytest.mark.parametrize(
    "variable, expected",
    [
        ("SR_KERNELS_BUILD_EXT", "SR_KERNELS_BUILD_EXT must be auto, 0 or 1, got 'false'"),
        # It started a CPU-only JIT build (3 minutes on 2 cores) that the user did not ask for.
        ("SR_KERNELS_WITH_CUDA", "SR_KERNELS_WITH_CUDA must be auto or 0, got 'false'"),
    ],
)
def test_a_bad_build_setting_warns_the_library_user(variable, expected):
    """Outside the CLI the extension stays unloaded (the ops fall back) with a warning."""
    if variable == "SR_KERNELS_WITH_CUDA" and _ext._prebuilt_library() is not None:
        pytest.skip("a prebuilt library is loaded whatever SR_KERNELS_WITH_CUDA says")
    code = (
        "import warnings, torch\n"
        "from sr_kernels import ops\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    ops.pixel_shuffle(torch.rand(1, 4, 2, 2), 2)\n"
        "print(ops.last_backend('pixel_shuffle'))\n"
        "print([str(w.message) for w in caught])\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "SR_KERNELS_BUILD_EXT"}
    env[variable] = "false"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300, cwd=ROOT
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    backend, messages = result.stdout.splitlines()
    assert backend == "reference"
    assert expected in messages


def test_ctrl_c_is_one_line_and_status_130(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "run", interrupted)
    assert main(["demo"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_a_closed_output_pipe_ends_quietly():
    """`sr-kernels env | head -1`: the reader leaves after one line; no traceback."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", "sr_kernels", "env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()
    process.wait(timeout=600)
    err = process.stderr.read().decode()
    process.stderr.close()
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_demo_device_cuda_without_a_gpu_is_a_usage_error(capsys):
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible")
    assert main(["demo", "--device", "cuda"]) == 2
    assert capsys.readouterr().err == "error: --device cuda: no CUDA GPU is visible\n"
