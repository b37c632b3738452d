"""sr_kernels/_build.py: the architectures and defines of the CUDA build (no compiler needed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from sr_kernels import _build, _ext

ROOT = Path(__file__).resolve().parents[1]


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


def test_builds_for_different_visible_gpus_have_their_own_folders():
    # torch's default arch list ("") follows the visible GPUs: an A100 node and an L40 node
    # sharing a home folder shared one build, and sm_89 code does not run on the A100.
    def tag(arch, capabilities, with_cuda=True):
        return _build.build_tag(with_cuda, arch, "2.11.0", capabilities)

    a100, l40, mixed = [(8, 0)], [(8, 9)], [(8, 0), (8, 9)]
    assert len({tag("", a100), tag("", l40), tag("", mixed)}) == 3
    assert tag("", mixed) == tag("", [(8, 9), (8, 0), (8, 9)])  # the set of GPUs, not the order
    assert tag("9.0a", [(9, 0)]) == tag("9.0a", [(9, 0), (9, 0)])  # an explicit list names it
    assert tag("", [], with_cuda=False) == tag("", l40, with_cuda=False)  # CPU-only builds


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


def test_the_jit_build_compiles_a_copy_that_changes_only_where_the_sources_do(tmp_path):
    """sync_sources: the build folder no longer depends on where the sources are (the README's
    demo, from the wheel's copy, and pytest, from the checkout, built twice), and ninja still
    recompiles only what changed: untouched copies keep their times."""
    root, mirror = tmp_path / "root", tmp_path / "build" / "src"
    names = ["csrc/cpu/a.cpp", "csrc/cuda/b.cu", "csrc/common/c.h", "python/ops/d.cpp"]
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    (root / "csrc" / "notes.txt").write_text("not a source")
    assert sorted(str(p.relative_to(mirror)) for p in _build.sync_sources(root, mirror)) == sorted(
        names
    )
    assert not (mirror / "csrc" / "notes.txt").exists()
    os.utime(mirror / "csrc/cpu/a.cpp", (1000, 1000))
    assert _build.sync_sources(root, mirror) == []  # the same bytes: nothing copied
    (root / "csrc/common/c.h").write_text("edited")
    (root / "python/ops/d.cpp").unlink()
    changed = _build.sync_sources(root, mirror)
    assert {str(p.relative_to(mirror)) for p in changed} == {"csrc/common/c.h", "python/ops/d.cpp"}
    assert (mirror / "csrc/common/c.h").read_text() == "edited"
    assert not (mirror / "python/ops/d.cpp").exists()
    assert (mirror / "csrc/cpu/a.cpp").stat().st_mtime == 1000  # untouched: not recompiled
    (root / "csrc/cpu/a.cpp").write_text("edited too")
    assert _build.sync_sources(root, mirror, dry_run=True) == [mirror / "csrc/cpu/a.cpp"]
    assert (mirror / "csrc/cpu/a.cpp").read_text() == "csrc/cpu/a.cpp"  # a dry run writes nothing
    assert _build.sync_sources(root, mirror) == [mirror / "csrc/cpu/a.cpp"]
    other = tmp_path / "other_copy"  # the same sources elsewhere: nothing to copy
    shutil.copytree(root, other)
    assert _build.sync_sources(other, mirror) == []


def test_a_finished_build_in_a_read_only_cache_is_loaded_when_its_sources_match(
    tmp_path, monkeypatch
):
    """cpp_extension.load writes build files even with nothing to do, so a shared cache an
    admin filled and users cannot write was never used: each process fell back."""
    import torch

    root, build = tmp_path / "root", tmp_path / "build"
    for name in ["csrc/cpu/a.cpp", "csrc/common/c.h", "python/module.cpp"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    _build.sync_sources(root, build / "src")
    library = build / "sr_kernels_C.so"
    library.write_bytes(b"built")
    loaded = []
    monkeypatch.setattr(torch.ops, "load_library", loaded.append)
    assert _ext._load_read_only(library, root, build / "src", with_cuda=False) == library
    assert loaded == [str(library)]

    (root / "csrc/common/c.h").write_text("edited since the build")
    with pytest.raises(RuntimeError, match="read-only: set SR_KERNELS_CACHE to a writable"):
        _ext._load_read_only(library, root, build / "src", with_cuda=False)
    assert loaded == [str(library)]  # not loaded again
    assert (build / "src/csrc/common/c.h").read_text() == "csrc/common/c.h"  # nothing written


def _elf_header(wide: bool, order: str, shoff: int, shentsize: int, shnum: int) -> bytes:
    """An ELF file header with only the fields `truncation` reads filled in."""
    header = bytearray(64 if wide else 52)
    header[:6] = b"\x7fELF" + bytes([2 if wide else 1, 1 if order == "little" else 2])
    at = (0x28, 0x3A, 0x3C) if wide else (0x20, 0x2E, 0x30)
    header[at[0] : at[0] + (8 if wide else 4)] = shoff.to_bytes(8 if wide else 4, order)
    header[at[1] : at[1] + 2] = shentsize.to_bytes(2, order)
    header[at[2] : at[2] + 2] = shnum.to_bytes(2, order)
    return bytes(header)


@pytest.mark.parametrize("wide", [True, False])
@pytest.mark.parametrize("order", ["little", "big"])
def test_truncation_finds_a_library_cut_before_its_section_headers(tmp_path, wide, order):
    # dlopen of a truncated library (a link killed half-way) killed the process with SIGBUS,
    # and ninja, comparing times, took it as built.
    library = tmp_path / "lib.so"
    header = _elf_header(wide, order, shoff=1000, shentsize=64, shnum=10)
    library.write_bytes(header.ljust(1000 + 640, b"\0"))
    assert _build.truncation(library) is None
    library.write_bytes(header.ljust(1000 + 639, b"\0"))
    assert _build.truncation(library) == "it is truncated (1639 of at least 1640 bytes)"
    library.write_bytes(header[:40])
    assert _build.truncation(library) == "its ELF header is incomplete"
    library.write_bytes(b"MZ not an ELF file")  # not checked
    assert _build.truncation(library) is None


def test_a_damaged_library_is_refused_instead_of_loaded(tmp_path, monkeypatch):
    import torch

    loaded = []
    monkeypatch.setattr(torch.ops, "load_library", loaded.append)
    library = tmp_path / "sr_kernels_C.so"
    library.write_bytes(_elf_header(True, "little", shoff=4096, shentsize=64, shnum=30))
    with pytest.raises(RuntimeError, match=r"is damaged: it is truncated \(64 of at least"):
        _ext._load_read_only(library, tmp_path, tmp_path / "src", with_cuda=False)
    assert loaded == []


def test_newer_than_names_sources_and_headers_edited_since_the_build(tmp_path):
    """What the JIT build's 'rebuilding' notice counts (on its copy of the sources): the
    .cpp/.cu sources and every .h/.cuh under csrc/ and python/ modified after the library, so
    a rebuild killed half-way is announced again by the next process."""
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


def _toolkit(folder: Path, nvcc: bool = True, header: bool = True) -> Path:
    (folder / "bin").mkdir(parents=True)
    (folder / "include").mkdir()
    if nvcc:
        (folder / "bin" / "nvcc").write_text("")
        (folder / "bin" / "nvcc").chmod(0o755)  # executable: shutil.which finds it
    if header:
        (folder / "include" / "cuda_runtime_api.h").write_text("")
    return folder


def test_a_cuda_home_without_a_toolkit_is_named_not_bypassed(tmp_path, monkeypatch):
    # torch compiles with $CUDA_HOME/bin/nvcc and its headers: an nvcc on PATH does not help.
    # Before, the PATH fallback said CUDA could be built, and the whole build then failed.
    monkeypatch.delenv("SR_KERNELS_WITH_CUDA", raising=False)
    on_path = _toolkit(tmp_path / "path_toolkit")
    monkeypatch.setenv("PATH", str(on_path / "bin"))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _build.find_nvcc(str(empty)) is None
    assert "has no bin/nvcc" in _build.cuda_build_reason("13.0", str(empty))
    headerless = _toolkit(tmp_path / "headerless", header=False)
    assert "no include/cuda_runtime_api.h" in _build.cuda_build_reason("13.0", str(headerless))
    assert _build.cuda_build_reason("13.0", str(on_path)) is None
    assert _build.find_nvcc(None) == str(on_path / "bin" / "nvcc")  # no CUDA_HOME: PATH's


@pytest.mark.parametrize("value", ["false", "no", "off", "1"])
def test_with_cuda_refuses_what_it_does_not_know(monkeypatch, value):
    monkeypatch.setenv("SR_KERNELS_WITH_CUDA", value)
    problem = f"SR_KERNELS_WITH_CUDA must be auto or 0, got {value!r}"
    assert _build.with_cuda_setting_problem() == problem
    assert _build.cuda_build_reason("13.0", None) == problem  # no CUDA build on a typo
    for fine in ("", "auto", "0"):
        monkeypatch.setenv("SR_KERNELS_WITH_CUDA", fine)
        assert _build.with_cuda_setting_problem() is None


def test_versioned_toolkits_are_tried_newest_first():
    folders = ["/usr/local/cuda-11.8", "/usr/local/cuda-12.10", "/usr/local/cuda-12.4",
               "/usr/local/cuda-13.0", "/usr/local/cuda-latest"]  # fmt: skip
    folders.sort(key=_build._toolkit_version, reverse=True)
    assert folders[:4] == ["/usr/local/cuda-13.0", "/usr/local/cuda-12.10",
                           "/usr/local/cuda-12.4", "/usr/local/cuda-11.8"]  # fmt: skip


def test_build_lock_removes_a_killed_builds_torch_lock(tmp_path):
    # torch 2.11 waited forever for the lock file a killed build left; ours is an OS lock.
    (tmp_path / _ext.TORCH_LOCK_FILE).write_text("")
    with _ext.build_lock(tmp_path):
        assert not (tmp_path / _ext.TORCH_LOCK_FILE).exists()
    with _ext.build_lock(tmp_path):  # none left: fine too
        pass


@pytest.mark.skipif(_ext.fcntl is None, reason="OS locks (fcntl) are POSIX only")
def test_build_lock_waits_for_another_builder_and_says_so(tmp_path, capfd):
    # The other builder holds the lock until told to stop (no sleeps: nothing to time).
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, sys\n"
         "f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True)\n"
         "sys.stdin.readline()\n",
         str(tmp_path / "sr_kernels.lock")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    released = threading.Event()

    def release():
        released.set()
        holder.stdin.write("done\n")
        holder.stdin.flush()

    timer = threading.Timer(0.5, release)
    timer.start()
    with _ext.build_lock(tmp_path):
        assert released.is_set()  # it waited for the other build, not past it
    holder.wait(timeout=30)
    assert "waiting for another process that builds the extension" in capfd.readouterr().err


def test_headline_is_the_first_compiler_error():
    log = (
        "Error building extension 'sr_kernels_C': [1/3] c++ -c a.cpp\n"
        "FAILED: b.o\n"
        "/src/b.cpp:3:10: fatal error: cuda_runtime_api.h: No such file or directory\n"
    )
    assert _ext.headline(log) == (
        "/src/b.cpp:3:10: fatal error: cuda_runtime_api.h: No such file or directory"
    )
    assert _ext.headline("OSError: nothing\nmore") == "OSError: nothing"
    assert _ext.headline("x" * 300).endswith("...") and len(_ext.headline("x" * 300)) == 200


@pytest.mark.slow
def test_the_source_distribution_has_what_an_install_needs(tmp_path):
    # Without MANIFEST.in the sdist had no csrc/ or python/: installing it failed.
    pytest.importorskip("setuptools")
    tree = tmp_path / "tree"
    _tracked_copy(tree)
    env = {"SR_KERNELS_BUILD_EXT": "0", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "setup.py", "-q", "sdist", "-d", str(tmp_path / "dist")],
        cwd=tree, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    (archive,) = (tmp_path / "dist").glob("*.tar.gz")
    with tarfile.open(archive) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    needed = ["csrc/cuda/residual_block.cu", "csrc/common/cubic.h", "python/module.cpp"]
    needed += ["sr_kernels/ops/backend_timings.json", "sr_kernels/metrics/README.md"]
    assert set(needed) <= names, set(needed) - names


def _tracked_copy(tree: Path) -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    for name in tracked.stdout.split():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tree / name)


@pytest.mark.parametrize("mode", ["auto", "1"])
def test_a_failed_ahead_of_time_build_fails_the_install_only_when_asked(tmp_path, mode):
    # auto used to fail `pip install --no-build-isolation .` on any compiler error, though the
    # README says only SR_KERNELS_BUILD_EXT=1 does. A compiler that fails at once stands in.
    pytest.importorskip("setuptools")
    tree = tmp_path / "tree"
    _tracked_copy(tree)
    env = {**os.environ, "SR_KERNELS_BUILD_EXT": mode, "SR_KERNELS_WITH_CUDA": "0"}
    env["CXX"] = shutil.which("false") or pytest.skip("no `false` command")
    stale = tmp_path / "lib" / "sr_kernels" / "_C.so"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"an earlier build's library")
    result = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--build-lib", str(tmp_path / "lib"),
         "--build-temp", str(tmp_path / "temp")],
        cwd=tree, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    if mode == "auto":
        assert result.returncode == 0, result.stderr[-2000:]
        assert "did not build ahead of time" in result.stderr
        # nor the library an earlier build left there, which the wheel would have packaged
        assert not list((tmp_path / "lib").rglob("_C*.so"))
    else:
        assert result.returncode != 0
        assert "did not build ahead of time" not in result.stderr


def _run_in_a_fresh_interpreter(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -c code args...` with the extension allowed (SR_KERNELS_BUILD_EXT unset): a
    process that has not loaded it yet, as this one has."""
    env = {k: v for k, v in os.environ.items() if k != "SR_KERNELS_BUILD_EXT"}
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
        timeout=120, cwd=ROOT,
    )  # fmt: skip


def test_a_failed_build_says_so_once_instead_of_falling_back_in_silence():
    # Before, the only line was "building the C++ extension ..." and every op then ran on the
    # reference backend without a word (a fresh interpreter: this one has loaded the extension).
    code = (
        "from sr_kernels import _ext\n"
        "def fail():\n"
        "    error = RuntimeError(\"Error building extension 'sr_kernels_C': [1/2] c++ a.cpp\\n"
        'a.cpp:1:10: fatal error: missing.h: No such file or directory")\n'
        "    raise error from OSError('ninja exited 1')\n"
        "_ext._prebuilt_library = lambda: None\n"
        "_ext._jit_build = fail\n"
        "print(_ext.load(), _ext.load())\n"
        "print(_ext.info().reason)\n"
    )
    result = _run_in_a_fresh_interpreter(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("False False\n")
    assert "(caused by OSError: ninja exited 1)" in result.stdout
    notices = [line for line in result.stderr.splitlines() if "not available" in line]
    assert len(notices) == 1, result.stderr  # once per process
    assert "fatal error: missing.h" in notices[0] and "sr-kernels env" in notices[0]


def test_a_prebuilt_library_without_cuda_kernels_says_why():
    """The reason the cuda backend is missing when the library installed with the package has no
    CUDA kernels (built without a toolkit). This session's library stands in for it, with its
    answer to built_with_cuda patched to "no" (a fresh interpreter)."""
    built = _ext.info()
    if not built.loaded:
        pytest.skip(f"the compiled extension is not loaded: {built.reason}")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "import torch\n"
        "from sr_kernels import _ext\n"
        "_ext._prebuilt_library = lambda: Path(sys.argv[1])\n"
        "load = torch.ops.load_library\n"
        "def load_without_cuda(path):\n"
        "    load(path)\n"
        "    torch.ops.sr_kernels.built_with_cuda = lambda: False\n"
        "torch.ops.load_library = load_without_cuda\n"
        "info = _ext.info()\n"
        "print(info.how, info.loaded, info.with_cuda)\n"
        "print(info.cuda_reason)\n"
    )
    result = _run_in_a_fresh_interpreter(code, built.path)
    assert result.returncode == 0, result.stderr
    first, reason = result.stdout.splitlines()[:2]
    assert first == "prebuilt True False"
    assert f"the library installed with the package ({Path(built.path).name}) has none" in reason
    assert "without a CUDA toolkit" in reason and "CUDA_HOME" in reason
