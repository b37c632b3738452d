"""Benchmark session set-up: the `bench` fixture, speed-ups in the JSON, a summary at the end.

Run with ``pytest bench --benchmark-only`` (see bench/README.md). Unlike tests/conftest.py this
never sets TRITON_INTERPRET: the interpreter is a testing device, not something to time.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness  # noqa: E402

from sr_kernels import benchmarking  # noqa: E402

# Baselines get cuDNN's autotuner (our kernels do not use cuDNN); benchmarks record the state.
torch.backends.cudnn.benchmark = True

_RESULTS: list[dict[str, Any]] = []


def _has_pytest_benchmark(pluginmanager: Any) -> bool:
    # Installed and not blocked with `-p no:benchmark`; otherwise the stand-in serves.
    return importlib.util.find_spec("pytest_benchmark") is not None and pluginmanager.hasplugin(
        "benchmark"
    )


def pytest_report_header(config: pytest.Config) -> str:
    """Which sr_kernels runs: plain `pytest` (no `python -m`) imports an installed copy before
    this checkout's, and would test that one. (Written out here and in the other conftest: an
    installed copy may predate any helper the package could hold.)"""
    import sr_kernels

    where = Path(sr_kernels.__file__).resolve().parent
    checkout = Path(__file__).resolve().parents[1] / "sr_kernels"
    which = "this checkout" if where == checkout else "an installed copy, not this checkout"
    return f"sr_kernels: {where} ({which})"


def pytest_addoption(parser: pytest.Parser, pluginmanager: Any) -> None:
    if not _has_pytest_benchmark(pluginmanager):
        _harness.add_minibenchmark_options(parser)


class _SpeedupHooks:
    """pytest-benchmark hook (registered only when the plugin is there: unknown hooks fail)."""

    @staticmethod
    def pytest_benchmark_update_json(config: Any, benchmarks: Any, output_json: dict) -> None:
        benchmarking.annotate_speedups(output_json.get("benchmarks", []))


def pytest_configure(config: pytest.Config) -> None:
    _harness.keep_freed_memory()  # steady CPU timings (the reason is in _harness)
    if _has_pytest_benchmark(config.pluginmanager):
        config.pluginmanager.register(_SpeedupHooks(), "sr_kernels_bench_speedups")
    elif not config.pluginmanager.hasplugin("sr_kernels_minibenchmark"):
        config.pluginmanager.register(_harness.MiniBenchmarkPlugin(), "sr_kernels_minibenchmark")


@pytest.fixture
def bench(benchmark: Any, request: pytest.FixtureRequest) -> _harness.Bench:
    """``bench(case, fn, expected=..., cost=...)``: check, time and record one case."""
    return _harness.Bench(benchmark, request.config, _RESULTS)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _RESULTS:
        return
    benchmarking.annotate_speedups(_RESULTS)
    rows = benchmarking.rows_from_benchmarks(_RESULTS)
    terminalreporter.write_sep("=", "sr_kernels: ours vs the primary baseline of each group")
    terminalreporter.write_line(benchmarking.markdown_table(rows))
