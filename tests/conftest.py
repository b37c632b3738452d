"""Test session set-up: the Triton interpreter on GPU-less machines, the `cuda` marker, data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

# Triton reads TRITON_INTERPRET when it is imported, so decide before anything imports it.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
# Backend timings tables (`sr-kernels tune`) reorder the automatic choice; tests see the fixed
# order unless they set their own tables (tests/ops/test_backend_timings.py) or the caller set
# SR_KERNELS_BACKEND_TIMINGS.
os.environ.setdefault("SR_KERNELS_BACKEND_TIMINGS", "off")

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pytest_report_header(config: pytest.Config) -> str:
    """Which sr_kernels runs: plain `pytest` (no `python -m`) imports an installed copy before
    this checkout's, and would test that one. (Written out here and in the other conftest: an
    installed copy may predate any helper the package could hold.)"""
    import sr_kernels

    where = Path(sr_kernels.__file__).resolve().parent
    checkout = Path(__file__).resolve().parents[1] / "sr_kernels"
    which = "this checkout" if where == checkout else "an installed copy, not this checkout"
    return f"sr_kernels: {where} ({which})"


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; none is visible on this machine")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _not_an_xdist_worker_to_children(monkeypatch):
    """Under pytest-xdist (the README's `-n auto`), a pytest that a test starts (the bench
    runner's) must not inherit this worker's identity: pytest-benchmark reads
    PYTEST_XDIST_WORKER and then disables every benchmark."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)


# Above this, what a test left in PyTorch's caching allocator goes back to the GPU.
_KEEP_RESERVED_BYTES = 4 << 30


@pytest.fixture(autouse=True)
def _gpu_memory_handed_back():
    """Processes that share the GPU (pytest-xdist workers) would each keep what their largest
    test reserved: ~20 GB for the tests of offsets past 2^31."""
    yield
    if torch.cuda.is_available() and torch.cuda.memory_reserved() > _KEEP_RESERVED_BYTES:
        torch.cuda.empty_cache()


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
    yield
