"""Loads the compiled extension (`torch.ops.sr_kernels.*`): ahead-of-time build or JIT with ninja.

Importing this module never builds or fails. `load()` does the work once and records the
outcome; `HAS_EXT`, `EXT_REASON` and `info()` report it. Order of attempts:

1. a prebuilt ``sr_kernels/_C*.so`` (``pip install --no-build-isolation .``);
2. a just-in-time build from the sources (checkout or the copy shipped in the wheel), cached in
   ``$SR_KERNELS_CACHE`` (default ``~/.cache/sr_kernels``) in a folder per torch version, flags
   and architectures, so a different torch never loads a stale build. It compiles a copy of the
   sources kept there (`_build.sync_sources`), so every copy of the same sources shares one
   build; ninja recompiles the files that changed. A finished build in a folder this process
   cannot write (a shared cache) is loaded as it is when it is of the same sources.

``SR_KERNELS_BUILD_EXT=0`` disables both. A value these settings do not know (an
``SR_KERNELS_BUILD_EXT``, or an ``SR_KERNELS_WITH_CUDA`` where the JIT build would read it)
leaves the extension unloaded with the reason: a typo must not start a build of minutes.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: builds are not serialised (torch's own lock remains)
    fcntl = None  # type: ignore[assignment]

from . import _build

_PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass
class ExtInfo:
    loaded: bool = False
    reason: str = "not loaded yet"
    how: str = ""  # "prebuilt" or "jit"
    path: str = ""
    with_cuda: bool = False
    cuda_reason: str = ""
    arch_list: str = ""
    build_dir: str = ""
    kernels: list[str] = field(default_factory=list)


_info = ExtInfo()
_attempted = False
_lock = threading.Lock()
_on_load: list[Callable[[], None]] = []
# Held while backend modules are imported: by load() while it runs the on-load callbacks and by
# the ops registry. Without it, the first calls of several threads imported backend modules
# concurrently; a module whose import calls load() ran the other callbacks, and Python's import
# machinery could hand a thread a half-imported module (AttributeError, 1 run in 8 with 4 ops).
import_lock = threading.RLock()


def on_load(callback: Callable[[], None]) -> None:
    """Run `callback` once the extension is loaded (at once if it already is).

    The ops layer registers its fake kernels and autograd formulas this way, so that they exist
    as soon as the `torch.ops.sr_kernels` ops do, also for a direct call under torch.compile
    before any public op ran (this layer cannot import the ops layer).
    """
    if _info.loaded:
        callback()
    else:
        _on_load.append(callback)


def _prebuilt_library() -> Path | None:
    candidates = sorted(_PACKAGE_DIR.glob("_C*.so")) + sorted(_PACKAGE_DIR.glob("_C*.pyd"))
    return candidates[0] if candidates else None


def cache_dir() -> Path:
    # Empty counts as unset (it would otherwise be the current folder).
    return Path(os.environ.get("SR_KERNELS_CACHE") or Path.home() / ".cache" / "sr_kernels")


def _jit_build() -> Path:
    _build.ensure_cuda_home()
    import torch

    # Importing cpp_extension on a GPU-less machine logs "No CUDA runtime is found, using
    # CUDA_HOME=..." at WARNING level; that is expected here (CUDA kernels are built for GPUs
    # that are not present), and `sr-kernels env` reports the situation, so keep it quiet.
    cpp_logger = logging.getLogger("torch.utils.cpp_extension")
    previous_level = cpp_logger.level
    cpp_logger.setLevel(logging.ERROR)
    try:
        from torch.utils import cpp_extension
    finally:
        cpp_logger.setLevel(previous_level)

    if os.environ.get("CUDA_HOME") and cpp_extension.CUDA_HOME != os.environ["CUDA_HOME"]:
        # torch fixed its guess at import time; use the toolkit folder found above.
        cpp_extension.CUDA_HOME = os.environ["CUDA_HOME"]

    root = _build.find_source_root(_PACKAGE_DIR)
    if root is None:
        raise RuntimeError("no C++ sources found next to the package to build the extension from")
    cuda_reason = _build.cuda_build_reason(torch.version.cuda, cpp_extension.CUDA_HOME)
    with_cuda = cuda_reason is None
    arch = ""
    capabilities: list[tuple[int, int]] = []
    if with_cuda:
        capabilities = _build.gpu_capabilities(torch.cuda)
        arch = _build.arch_list(capabilities)
        if arch:
            os.environ["TORCH_CUDA_ARCH_LIST"] = arch
    _info.with_cuda = with_cuda
    _info.cuda_reason = cuda_reason or ""
    _info.arch_list = arch or os.environ.get("TORCH_CUDA_ARCH_LIST", "visible GPU")

    build_dir = cache_dir() / _build.build_tag(with_cuda, arch, torch.__version__, capabilities)
    _info.build_dir = str(build_dir)
    name = "sr_kernels_C"
    library = build_dir / f"{name}.so"
    if library.exists() and not _writable(build_dir):
        return _load_read_only(library, root, build_dir / "src", with_cuda)
    build_dir.mkdir(parents=True, exist_ok=True)
    what = f"CUDA kernels for {arch or 'the visible GPU'}" if with_cuda else "CPU kernels only"
    defines = _build.cuda_defines(arch) if with_cuda else []
    with build_lock(build_dir):  # also over the copy: another process may be building from it
        cut = _build.truncation(library) if library.exists() else None
        if cut:  # ninja would take it as built, and loading it kills the process (SIGBUS)
            _notice(f"the built extension {library} is damaged ({cut}); linking it again")
            library.unlink()
        mirror = build_dir / "src"
        _build.sync_sources(root, mirror)
        # From the times, not from what this sync copied: after a rebuild that was killed, the
        # copy is current but ninja still has to recompile it.
        changed = _build.newer_than(library, mirror, with_cuda) if library.exists() else []
        # Whenever the build below has work, say so: it is minutes of silence otherwise.
        if not library.exists() and not cut:
            _notice(
                f"building the C++ extension ({what}) for torch {torch.__version__} on first "
                f"use (a few minutes); cached in {build_dir}"
            )
        elif changed:
            _notice(
                f"rebuilding the C++ extension ({what}): {len(changed)} source files changed "
                f"since the build in {build_dir} (e.g. {changed[0].name})"
            )
        _load_into(cpp_extension, name, mirror, build_dir, with_cuda, defines)
    return library


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK)


def _load_read_only(library: Path, root: Path, mirror: Path, with_cuda: bool) -> Path:
    """Load a finished build from a folder this process cannot write (a shared cache an admin
    filled): cpp_extension.load writes its build files even when there is nothing to do, so
    it failed there. Only when the build is of the same sources and nothing changed since."""
    import torch

    _refuse_truncated(library)
    stale = _build.sync_sources(root, mirror, dry_run=True)
    stale = stale or _build.newer_than(library, mirror, with_cuda)
    if stale:
        raise RuntimeError(
            f"the build in {library.parent} is of other sources (e.g. {stale[0].name}) and "
            "that folder is read-only: set SR_KERNELS_CACHE to a writable folder"
        )
    torch.ops.load_library(str(library))
    return library


def _refuse_truncated(library: Path) -> None:
    cut = _build.truncation(library)
    if cut:  # loading it would kill the process (SIGBUS), not raise
        raise RuntimeError(f"{library} is damaged: {cut}")


def _load_into(
    cpp_extension, name: str, root: Path, build_dir: Path, with_cuda: bool, defines: list[str]
) -> None:
    cpp_extension.load(
        name=name,
        sources=[
            str(p)
            for p in _build.unique_sources(
                _build.sources(root, with_cuda), root, build_dir / "sources"
            )
        ],
        extra_include_paths=[str(p) for p in _build.include_dirs(root)],
        extra_cflags=_build.CXX_FLAGS + defines,
        extra_cuda_cflags=_build.NVCC_FLAGS + defines,
        extra_ldflags=_build.LD_FLAGS,
        build_directory=str(build_dir),
        is_python_module=False,
        with_cuda=with_cuda,
        verbose=os.environ.get("SR_KERNELS_VERBOSE_BUILD", "0") == "1",
    )


# The file torch's cpp_extension.load locks a build folder with. Torch 2.11 creates it with
# O_EXCL, deletes it when done, and waits for it to go (FileBaton: no time limit, no message),
# so one left by a killed build hung every later process; torch 2.14 takes an OS lock on it.
TORCH_LOCK_FILE = "lock"


@contextmanager
def build_lock(build_dir: Path) -> Iterator[None]:
    """Hold our OS lock on `build_dir` (one sr_kernels build there at a time; the kernel
    releases it when a process dies) and, holding it, remove a leftover torch lock file: no
    other build can own it."""
    if fcntl is None:
        yield
        return
    with open(build_dir / "sr_kernels.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _notice(f"waiting for another process that builds the extension in {build_dir}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError as error:  # e.g. ENOLCK on an NFS home without locking: build unlocked
            _notice(f"building without a lock ({error.strerror or error}) in {build_dir}")
            yield
            return
        try:
            (build_dir / TORCH_LOCK_FILE).unlink(missing_ok=True)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _notice(message: str) -> None:
    print(f"sr_kernels: {message}", file=sys.stderr, flush=True)


def headline(message: str, limit: int = 200) -> str:
    """The line of a failure's message that says what went wrong: the first compiler diagnostic
    ("error:", "fatal error:") of a build log, else the first line (torch's "Error building
    extension ..." says only that)."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    errors = [line for line in lines if re.search(r"\berror\s*:", line, re.IGNORECASE)]
    line = (errors or lines or [""])[0]
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _short(message: str, limit: int = 1500) -> str:
    # A failed build's message is the whole compiler log: the end says what went wrong.
    message = message.strip()
    return message if len(message) <= limit else "... " + message[-limit:]


def build_ext_setting_problem() -> str | None:
    """What is wrong with SR_KERNELS_BUILD_EXT (auto, 0 or 1), or None."""
    mode = os.environ.get("SR_KERNELS_BUILD_EXT") or "auto"  # empty: unset, as for the others
    return (
        None
        if mode in ("auto", "0", "1")
        else (f"SR_KERNELS_BUILD_EXT must be auto, 0 or 1, got {mode!r}")
    )


def cpu_isa_setting_problem() -> str | None:
    """What is wrong with SR_KERNELS_CPU_ISA (auto, avx2 or base; the CPU kernels read it at
    each call and ignore another value), or None."""
    isa = os.environ.get("SR_KERNELS_CPU_ISA") or "auto"  # the kernels take "" as auto too
    return (
        None
        if isa in ("auto", "avx2", "base")
        else (f"SR_KERNELS_CPU_ISA must be auto, avx2 or base, got {isa!r}")
    )


def load() -> bool:
    """Load the extension once; returns whether `torch.ops.sr_kernels` ops are registered."""
    if not _load_library():
        return False
    with import_lock:  # re-entrant: a callback's import calls load() again
        while _on_load:
            _on_load.pop(0)()
    return True


def _load_library() -> bool:
    global _attempted
    with _lock:
        if _attempted:
            return _info.loaded
        _attempted = True
        try:
            import torch
        except ImportError as error:  # pragma: no cover - torch is a hard dependency
            _info.reason = f"torch is not importable: {error}"
            return False
        problem = build_ext_setting_problem()
        if problem:  # as setup.py: a typo must not start a long build
            _info.reason = problem
            # Said once, so that a typo does not go unnoticed behind the reference fallback.
            warnings.warn(f"{_info.reason}: the compiled extension is not loaded", stacklevel=2)
            return False
        if os.environ.get("SR_KERNELS_BUILD_EXT") == "0":
            _info.reason = "disabled by SR_KERNELS_BUILD_EXT=0"
            return False
        prebuilt = _prebuilt_library()
        problem = None if prebuilt is not None else _build.with_cuda_setting_problem()
        if problem:  # read by the JIT build only; a typo must not start one of minutes either
            _info.reason = problem
            warnings.warn(
                f"{_info.reason}: the compiled extension is not loaded (no JIT build is started)",
                stacklevel=2,
            )
            return False
        try:
            if prebuilt is not None:
                _refuse_truncated(prebuilt)
                torch.ops.load_library(str(prebuilt))
                _info.how, _info.path = "prebuilt", str(prebuilt)
            else:
                library = _jit_build()
                _info.how, _info.path = "jit", str(library)
        except Exception as error:  # recorded, never raised: the backends report the reason
            text = f"{type(error).__name__}: {error}"
            if error.__cause__ is not None:  # torch's "Could not load this library" hides why
                text += f" (caused by {type(error.__cause__).__name__}: {error.__cause__})"
            _info.reason = _short(text)
            hint = (
                " (a library built for another torch? reinstall sr_kernels)"
                if prebuilt is not None
                else " (each new process tries again; SR_KERNELS_BUILD_EXT=0 stops that)"
            )
            # Said once per process: otherwise every op falls back to the reference in silence.
            _notice(
                f"the compiled extension is not available: {headline(text)}{hint}. Ops run on "
                "the other backends; `sr-kernels env` shows the whole reason"
            )
            return False
        _info.loaded = True
        _info.reason = ""
        _info.with_cuda = bool(torch.ops.sr_kernels.built_with_cuda())
        if not _info.with_cuda and prebuilt is not None:  # the JIT build has said why
            _info.cuda_reason = (
                f"the library installed with the package ({prebuilt.name}) has none: it was "
                "built without a CUDA toolkit, with SR_KERNELS_WITH_CUDA=0 or for a CPU-only "
                "torch; reinstall with a toolkit found (CUDA_HOME) and a CUDA torch to get them"
            )
        return True


def info() -> ExtInfo:
    load()
    return _info


def __getattr__(name: str):
    # HAS_EXT / EXT_REASON are computed on first access, so importing never builds.
    if name == "HAS_EXT":
        return load()
    if name == "EXT_REASON":
        load()
        return _info.reason
    raise AttributeError(name)
