"""sr_kernels/_build.py: the architectures and defines of the CUDA build (no compiler needed)."""

from __future__ import annotations

import pytest

from sr_kernels import _build


@pytest.fixture(autouse=True)
def _no_user_arch_list(monkeypatch):
    monkeypatch.delenv("TORCH_CUDA_ARCH_LIST", raising=False)


def test_default_arch_list_targets_sm90a_for_hopper():
    assert _build.arch_list() == "8.0;8.6;8.9;9.0a"  # no GPU visible
    assert _build.cuda_defines(_build.DEFAULT_ARCH_LIST) == ["-DSR_WITH_CUDA", "-DSR_WITH_SM90A"]


def test_visible_hopper_gpus_build_sm90a_others_torch_default():
    assert _build.arch_list([(9, 0)]) == "9.0a"
    assert _build.arch_list([(9, 0), (9, 0)]) == "9.0a"
    assert _build.arch_list([(9, 0), (8, 0)]) == ""  # torch's default: each GPU's arch
    assert _build.arch_list([(8, 9)]) == ""


def test_user_arch_list_wins(monkeypatch):
    monkeypatch.setenv("TORCH_CUDA_ARCH_LIST", "9.0")
    assert _build.arch_list([(9, 0)]) == "9.0"
    assert _build.arch_list() == "9.0"


@pytest.mark.parametrize(
    ("arch", "sm90a"),
    [
        ("8.0;8.6;8.9;9.0a", True),
        ("9.0a+PTX", True),
        ("8.0 9.0a", True),
        ("9.0", False),
        ("8.0;9.0+PTX", False),
        ("", False),
        ("visible GPU", False),
    ],
)
def test_sm90a_define_follows_the_arch_list(arch, sm90a):
    defines = _build.cuda_defines(arch)
    assert defines[0] == "-DSR_WITH_CUDA"
    assert ("-DSR_WITH_SM90A" in defines) == sm90a


def test_newer_than_names_sources_and_headers_edited_since_the_build(tmp_path):
    """What the JIT build's 'rebuilding' notice counts: the .cpp/.cu sources and every .h/.cuh
    under csrc/ and python/ modified after the library."""
    import os

    for name in ("csrc/cpu/a.cpp", "csrc/cuda/b.cu", "csrc/common/c.h", "python/ops/d.cpp"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
        os.utime(tmp_path / name, (1000, 1000))
    library = tmp_path / "lib.so"
    library.write_text("")
    os.utime(library, (2000, 2000))
    assert _build.newer_than(library, tmp_path, with_cuda=True) == []
    for name in ("csrc/cuda/b.cu", "csrc/common/c.h"):
        os.utime(tmp_path / name, (3000, 3000))
    assert {p.name for p in _build.newer_than(library, tmp_path, with_cuda=True)} == {"b.cu", "c.h"}
    assert [p.name for p in _build.newer_than(library, tmp_path, with_cuda=False)] == ["c.h"]
