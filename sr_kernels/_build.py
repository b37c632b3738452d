"""How the compiled extension is built: one place for setup.py (ahead of time) and _ext.py (JIT).

Torch-free at import time so that setup.py can load this file without torch. Sources are found
by globbing the same folders in both paths: ``csrc/{cpu,cuda,common}`` and ``python/``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Architectures to build for when nothing says otherwise and no GPU is visible (torch's own
# default then fails): Ampere (8.0, 8.6), Ada (8.9), Hopper (9.0a: compute capability 9.0 with
# its own instructions, wgmma, which plain sm_90 code cannot use; such code runs on 9.0 only,
# as sm_90 code does).
DEFAULT_ARCH_LIST = "8.0;8.6;8.9;9.0a"
HOPPER = (9, 0)

# -ffp-contract=off: GCC contracts a * b + c into an FMA by default in C++, which would change
# the float64 sums that the uint8 CPU imresize must round exactly as the reference does (see
# csrc/cpu/imresize.cpp); FMA is used there only through explicit intrinsics.
CXX_FLAGS = ["-O3", "-fopenmp", "-ffp-contract=off"]
NVCC_FLAGS = ["-O3", "--expt-relaxed-constexpr"]
LD_FLAGS = ["-fopenmp"]


def source_root_candidates(package_dir: Path) -> list[Path]:
    """Where the C++/CUDA sources may live: a source checkout, or the copy shipped in the wheel."""
    return [package_dir.parent, package_dir / "_csrc"]


def find_source_root(package_dir: Path) -> Path | None:
    for root in source_root_candidates(package_dir):
        if (root / "csrc").is_dir() and (root / "python" / "module.cpp").is_file():
            return root
    return None


def sources(root: Path, with_cuda: bool) -> list[Path]:
    cpp = sorted(root.glob("csrc/cpu/*.cpp")) + sorted(root.glob("python/**/*.cpp"))
    cu = sorted(root.glob("csrc/cuda/*.cu")) if with_cuda else []
    return cpp + cu


def include_dirs(root: Path) -> list[Path]:
    return [root / "csrc" / "include", root / "csrc", root / "python"]


def newer_than(library: Path, root: Path, with_cuda: bool) -> list[Path]:
    """The sources and headers changed since `library` was built (ninja will recompile)."""
    built = library.stat().st_mtime
    files = sources(root, with_cuda)
    for folder in (root / "csrc", root / "python"):
        files += [p for p in folder.rglob("*") if p.suffix in (".h", ".cuh")]
    return [p for p in files if p.stat().st_mtime > built]


def truncation(library: Path) -> str | None:
    """Why `library`, an ELF shared object, is cut short (None if it is whole, or not ELF): its
    section header table, which the linker writes last, must end within the file. dlopen of a
    truncated library (a link killed half-way, a full disk) kills the process with SIGBUS
    instead of raising, and ninja, comparing times only, takes it as built."""
    with open(library, "rb") as handle:
        header = handle.read(64)
    if header[:4] != b"\x7fELF":
        return None  # not ELF (macOS, Windows): not checked
    wide = header[4:5] == b"\x02"  # EI_CLASS: 2 is 64-bit
    if len(header) < (64 if wide else 52):
        return "its ELF header is incomplete"

    def number(field: bytes) -> int:
        return int.from_bytes(field, "little" if header[5] == 1 else "big")

    if wide:  # 64-bit: e_shoff at 0x28, e_shentsize at 0x3A, e_shnum at 0x3C
        offset, entry, count = header[0x28:0x30], header[0x3A:0x3C], header[0x3C:0x3E]
    else:  # 32-bit: at 0x20, 0x2E and 0x30
        offset, entry, count = header[0x20:0x24], header[0x2E:0x30], header[0x30:0x32]
    end = number(offset) + number(entry) * number(count)
    size = library.stat().st_size
    return None if end <= size else f"it is truncated ({size} of at least {end} bytes)"


SOURCE_SUFFIXES = (".cpp", ".cu", ".h", ".cuh")


def sync_sources(root: Path, mirror: Path, dry_run: bool = False) -> list[Path]:
    """Make `mirror` hold exactly the C++/CUDA files of `root`'s csrc/ and python/, copying only
    those whose bytes differ (so ninja, which compares times, recompiles only what changed);
    returns the files copied or removed (`dry_run`: that would be, changing nothing).

    The JIT build compiles this copy, not `root`: the build folder is then the same for every
    copy of the same sources (the wheel's and a checkout's: the README's `sr-kernels demo`
    and `pytest` built the extension twice, minutes each, when the folder followed the path).
    The price: two trees with different sources (an install older than the checkout) share
    the folder, and each switch between them recompiles the files that differ.
    """
    changed = []
    wanted = set()
    for folder in ("csrc", "python"):
        for path in sorted((root / folder).rglob("*")):
            if not path.is_file() or path.suffix not in SOURCE_SUFFIXES:
                continue
            relative = path.relative_to(root)
            wanted.add(relative)
            target = mirror / relative
            data = path.read_bytes()
            if not target.is_file() or target.read_bytes() != data:
                if not dry_run:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
                changed.append(target)
    for path in sorted(mirror.rglob("*")) if mirror.is_dir() else []:
        if path.is_file() and path.relative_to(mirror) not in wanted:
            if not dry_run:
                path.unlink()
            changed.append(path)
    return changed


def build_tag(
    with_cuda: bool,
    arch_list: str,
    torch_version: str,
    capabilities: Sequence[tuple[int, int]] = (),
) -> str:
    """Names the JIT build folder: one per torch version, toolkit use, arch list and flags.

    An empty `arch_list` (torch's default: code for the visible GPUs) is named by those GPUs'
    `capabilities`: an A100 and an L40 node sharing a home folder used to share one build,
    each recompiling the other's (the L40's sm_89 code does not run on the A100).
    Not per source tree (`sync_sources`) and the sources themselves are not hashed: ninja
    rebuilds what changed inside the folder (header dependencies included), so an edit
    recompiles one file, not the whole extension.
    """
    if with_cuda and not arch_list:
        arch_list = "visible " + ";".join(sorted({f"{a}.{b}" for a, b in capabilities}))
    digest = hashlib.sha256()
    digest.update(f"cuda={with_cuda};arch={arch_list}".encode())
    digest.update(" ".join(CXX_FLAGS + NVCC_FLAGS + LD_FLAGS).encode())
    kind = "cuda" if with_cuda else "cpu"
    return f"torch{torch_version.replace('+', '_')}-{kind}-{digest.hexdigest()[:10]}"


def guess_cuda_home() -> str | None:
    """A CUDA toolkit folder (with bin/nvcc and include/cuda_runtime_api.h), or None.

    torch guesses CUDA_HOME from the nvcc on PATH; where that nvcc is a wrapper script
    (/usr/local/bin/nvcc here) the guess is wrong, so look at the usual folders first.
    """
    candidates = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"]
    # Versioned folders newest first (a string sort put 11.8 first, and 12.10 before 12.4).
    versioned = [str(p) for p in Path("/usr/local").glob("cuda-*")]
    versioned.sort(key=_toolkit_version, reverse=True)
    candidates += versioned
    for candidate in candidates:
        if candidate and (Path(candidate) / "include" / "cuda_runtime_api.h").is_file():
            if (Path(candidate) / "bin" / "nvcc").is_file():
                return candidate
    return None


def _toolkit_version(folder: str) -> tuple[int, ...]:
    """(12, 10) for /usr/local/cuda-12.10; () when the suffix is not a version."""
    suffix = folder.rsplit("cuda-", 1)[-1]
    parts = suffix.split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else ()


def ensure_cuda_home() -> None:
    """Set CUDA_HOME for torch.utils.cpp_extension when it is unset and a toolkit is found."""
    if not os.environ.get("CUDA_HOME"):
        home = guess_cuda_home()
        if home:
            os.environ["CUDA_HOME"] = home


def unique_sources(paths: list[Path], root: Path, folder: Path) -> list[Path]:
    """One stub per source, named after its path, that #includes it.

    torch's JIT builder names object files by basename, and csrc/cpu/X.cpp, csrc/cuda/X.cu and
    python/ops/X.cpp share one (STYLE.md: one name end to end).
    """
    folder.mkdir(parents=True, exist_ok=True)
    stubs = []
    for path in paths:
        stub = folder / "_".join(path.relative_to(root).parts)
        text = f'#include "{path.resolve()}"\n'
        if not stub.exists() or stub.read_text() != text:
            stub.write_text(text)
        stubs.append(stub)
    return stubs


def find_nvcc(cuda_home: str | None) -> str | None:
    """The nvcc torch will compile with: $CUDA_HOME/bin/nvcc when a CUDA_HOME is known (torch
    uses that folder's nvcc and headers, not the one on PATH), else the one on PATH."""
    if cuda_home:
        candidate = Path(cuda_home) / "bin" / "nvcc"
        return str(candidate) if candidate.is_file() else None
    return shutil.which("nvcc")


def with_cuda_setting_problem() -> str | None:
    """What is wrong with SR_KERNELS_WITH_CUDA (auto or 0; empty counts as unset), or None."""
    value = os.environ.get("SR_KERNELS_WITH_CUDA") or "auto"
    if value in ("auto", "0"):
        return None
    return f"SR_KERNELS_WITH_CUDA must be auto or 0, got {value!r}"


def cuda_build_reason(torch_cuda_version: str | None, cuda_home: str | None) -> str | None:
    """None when CUDA kernels can be built, else why not. Decided from the toolkit, not a GPU."""
    problem = with_cuda_setting_problem()
    if problem:  # "false" was taken for auto: a build of minutes the user meant to skip
        return problem
    if os.environ.get("SR_KERNELS_WITH_CUDA") == "0":
        return "SR_KERNELS_WITH_CUDA=0"
    if torch_cuda_version is None:
        return "the installed torch is a CPU-only build"
    if cuda_home and find_nvcc(cuda_home) is None:
        return f"CUDA_HOME={cuda_home} has no bin/nvcc; point CUDA_HOME at a CUDA toolkit"
    if cuda_home and not (Path(cuda_home) / "include" / "cuda_runtime_api.h").is_file():
        return f"CUDA_HOME={cuda_home} has no include/cuda_runtime_api.h; point it at a toolkit"
    if find_nvcc(cuda_home) is None:
        return "no CUDA toolkit (nvcc) found; set CUDA_HOME"
    return None


def gpu_capabilities(cuda: Any) -> list[tuple[int, int]]:
    """The compute capability of each visible GPU; `cuda` is the torch.cuda module (this file is
    imported without torch)."""
    if not cuda.is_available():
        return []
    return [cuda.get_device_capability(i) for i in range(cuda.device_count())]


def arch_list(capabilities: Sequence[tuple[int, int]] = ()) -> str:
    """The TORCH_CUDA_ARCH_LIST for the visible GPUs' `capabilities` (none: no GPU visible): the
    user's; "9.0a" when they are all compute capability 9.0 (torch's default would build plain
    sm_90, without wgmma); torch's default ("": the visible GPUs') for other GPUs; with no GPU
    visible, ours (torch's default then fails)."""
    env = os.environ.get("TORCH_CUDA_ARCH_LIST")
    if env:
        return env
    if not capabilities:
        return DEFAULT_ARCH_LIST
    return "9.0a" if all(tuple(c) == HOPPER for c in capabilities) else ""


def cuda_defines(arch: str) -> list[str]:
    """The -D flags of a build with CUDA kernels for the arch list `arch`: SR_WITH_SM90A when it
    has sm_90a code, where the wgmma kernels are real (elsewhere they compile as a trap and the
    launchers never pick them)."""
    archs = {a.split("+")[0].strip() for a in arch.replace(" ", ";").split(";")}
    return ["-DSR_WITH_CUDA"] + (["-DSR_WITH_SM90A"] if "9.0a" in archs else [])
