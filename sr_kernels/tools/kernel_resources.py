"""Registers, shared memory and spills of every GPU kernel, per architecture, without a GPU.

Two sources:

* CUDA kernels: the SASS inside the compiled extension (``sr_kernels._C`` / the JIT build),
  read with ``cuobjdump --dump-resource-usage``.
* Triton kernels: every configuration a Triton backend module launches (its ``aot_configs()``)
  compiled ahead of time for each target architecture with ``triton.compile`` and an explicit
  ``GPUTarget``, and the cubin read with cuobjdump. The compilation runs in subprocesses
  without ``TRITON_INTERPRET`` (under the interpreter ``@triton.jit`` returns an interpreted
  function that cannot be compiled), one per CPU up to 8, each taking every n-th
  configuration: compiling is single-threaded, and there are a few hundred configurations.

``stack`` and ``local`` bytes are the kernel's per-thread local memory: register spills (and
local arrays, which our kernels must not use either). A kernel passes the static check when
both are 0 and its shared memory fits the per-block opt-in limit of the architecture.
``tensor_core_ops`` counts the tensor-core MMA instructions in the kernel's SASS (HMMA from
``mma.sync``, HGMMA from ``wgmma``): the convolution kernels' speed rests on them, and only the
compiled code shows whether the compiler kept them.

No registry, no folder scanning: the Triton modules to check are listed in `TRITON_MODULES`.
Append a module there when you add a Triton backend module with an ``aot_configs()``.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

# Every Triton backend module; each defines aot_configs() -> list of dicts with
# kernel, signature, constexprs, num_warps (optional num_stages, num_ctas, maxnreg) and name.
TRITON_MODULES: tuple[str, ...] = (
    "sr_kernels.ops.triton.pixel_shuffle",
    "sr_kernels.ops.triton.residual_block",
    "sr_kernels.ops.triton.conv2d_act",
    "sr_kernels.ops.triton.conv_pixel_shuffle",
    "sr_kernels.ops.triton.imresize",
    "sr_kernels.ops.triton.psnr_mse",
    "sr_kernels.ops.triton.ssim_mean",
)

# Compute capabilities the package targets and checks statically (A100, H100).
ARCHS: tuple[int, ...] = (80, 90)

# Largest shared memory one block can opt in to (CUDA programming guide, compute capabilities).
SHARED_LIMIT_BYTES: dict[int, int] = {80: 163 * 1024, 86: 99 * 1024, 89: 99 * 1024, 90: 227 * 1024}

_OPTION_KEYS = ("num_warps", "num_stages", "num_ctas", "maxnreg")
_PACKAGE_PARENT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class KernelResources:
    """Resource usage of one kernel (one Triton configuration) on one architecture."""

    source: str  # "cuda" (compiled extension) or "triton"
    name: str  # readable kernel name (CUDA: demangled, without arguments; Triton: config name)
    arch: int  # compute capability as an int: 80, 90, ...
    registers: int = 0
    shared_bytes: int = 0  # static + (Triton) dynamic shared memory per block
    stack_bytes: int = 0
    local_bytes: int = 0
    error: str = ""  # set when the kernel could not be compiled or read
    function: str = ""  # CUDA: mangled symbol; Triton: the @triton.jit function's name
    tensor_core_ops: int = 0  # HMMA / HGMMA instructions in the SASS

    @property
    def spill_bytes(self) -> int:
        """Per-thread local memory: stack frame + local (spills, local arrays)."""
        return self.stack_bytes + self.local_bytes

    def problems(self) -> list[str]:
        """Why this kernel fails the static check (empty when it passes)."""
        where = f"{self.source} kernel {self.name} on sm_{self.arch}"
        if self.error:
            return [f"{where}: {self.error}"]
        found = []
        if self.spill_bytes:
            found.append(
                f"{where}: {self.stack_bytes} bytes stack + {self.local_bytes} bytes local "
                f"memory per thread (register spills), {self.registers} registers"
            )
        limit = SHARED_LIMIT_BYTES.get(self.arch)
        if limit is not None and self.shared_bytes > limit:
            found.append(
                f"{where}: {self.shared_bytes} bytes of shared memory exceed the "
                f"{limit}-byte per-block limit"
            )
        return found


# ---------------------------------------------------------------------------------------------
# Tools.


def _triton_nvidia_bin() -> Path | None:
    # Located without importing triton (importing it fixes TRITON_INTERPRET for the process).
    spec = importlib.util.find_spec("triton")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "backends" / "nvidia" / "bin"


def find_cuobjdump() -> str | None:
    """cuobjdump from the CUDA toolkit, PATH, or the copy shipped in the triton wheel."""
    from .. import _build

    candidates = []
    home = os.environ.get("CUDA_HOME") or _build.guess_cuda_home()
    if home:
        candidates.append(Path(home) / "bin" / "cuobjdump")
    on_path = shutil.which("cuobjdump")
    if on_path:
        candidates.append(Path(on_path))
    triton_bin = _triton_nvidia_bin()
    if triton_bin is not None:
        candidates.append(triton_bin / "cuobjdump")
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _require_cuobjdump() -> str:
    tool = find_cuobjdump()
    if tool is None:
        raise FileNotFoundError(
            "cuobjdump not found (looked in $CUDA_HOME/bin, PATH and the triton wheel)"
        )
    return tool


_FUNCTION = re.compile(r"^\s*Function (\S+):\s*$")
_ARCH = re.compile(r"^\s*arch = sm_(\d+)a?\s*$")
_FIELD = re.compile(r"([A-Z_]+(?:\[\d+\])?):(\d+)")


def parse_resource_usage(
    text: str, arch: int | None = None
) -> list[tuple[int, str, dict[str, int]]]:
    """(arch, mangled function name, {REG, STACK, SHARED, LOCAL, ...}) from cuobjdump output.

    `arch` is used for a bare cubin, whose dump has no ``arch =`` line.
    """
    rows = []
    current_arch, function = arch, None
    for line in text.splitlines():
        match = _ARCH.match(line)
        if match:
            current_arch, function = int(match.group(1)), None
            continue
        match = _FUNCTION.match(line)
        if match:
            function = match.group(1)
            continue
        if function is not None and "REG:" in line:
            if current_arch is None:
                raise ValueError(f"cuobjdump output names no architecture for {function}")
            fields = {key: int(value) for key, value in _FIELD.findall(line)}
            rows.append((current_arch, function, fields))
            function = None
    return rows


def demangle(names: Sequence[str]) -> list[str]:
    """C++ names through c++filt when it is installed (unchanged otherwise)."""
    tool = shutil.which("c++filt")
    if tool is None or not names:
        return list(names)
    result = subprocess.run(
        [tool], input="\n".join(names), capture_output=True, text=True, check=False
    )
    lines = result.stdout.splitlines()
    return lines if result.returncode == 0 and len(lines) == len(names) else list(names)


def short_name(demangled: str) -> str:
    """``sr::(anonymous namespace)::k<float, int>(const float*, ...)`` -> ``sr::k<float, int>``."""
    name = demangled.replace("(anonymous namespace)::", "").removeprefix("void ")
    depth = 0
    for index, char in enumerate(name):
        if char == "<":
            depth += 1
        elif char == ">":
            depth -= 1
        elif char == "(" and depth == 0 and index > 0:
            return name[:index]
    return name


def _dump(tool: str, path: Path, *options: str) -> str:
    """cuobjdump's output for `path` (default: the resource usage of every kernel)."""
    command = [tool, *(options or ("--dump-resource-usage",)), str(path)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()}")
    return result.stdout


# ---------------------------------------------------------------------------------------------
# CUDA kernels in the compiled extension.


def cuda_kernel_resources(
    library: str | os.PathLike[str],
    archs: Iterable[int] | None = None,
    opcodes: Mapping[int, dict[str, collections.Counter[str]]] | None = None,
) -> list[KernelResources]:
    """Every kernel in the extension's fat binaries, for `archs` (None: every SASS arch in it).
    `opcodes`: `cuda_kernel_opcodes` per arch where the caller has them already (disassembling
    the library takes ~10 s per arch on 2 cores)."""
    rows = parse_resource_usage(_dump(_require_cuobjdump(), Path(library)))
    wanted = None if archs is None else set(archs)
    rows = [row for row in rows if wanted is None or row[0] in wanted]
    names = [short_name(name) for name in demangle([row[1] for row in rows])]
    known = opcodes or {}
    per_arch = {
        arch: known[arch] if arch in known else cuda_kernel_opcodes(library, arch)
        for arch in {row[0] for row in rows}
    }
    return [
        KernelResources(
            source="cuda",
            name=name,
            arch=arch,
            registers=fields.get("REG", 0),
            shared_bytes=fields.get("SHARED", 0),
            stack_bytes=fields.get("STACK", 0),
            local_bytes=fields.get("LOCAL", 0),
            function=mangled,
            tensor_core_ops=tensor_core_ops(per_arch[arch].get(mangled, collections.Counter())),
        )
        for (arch, mangled, fields), name in zip(rows, names)
    ]


_SASS_FUNCTION = re.compile(r"^\s*Function : (\S+)")
# "/*0ab0*/  @!P0 LDG.E.128 R24, [R26.64] ;": the opcode after the address and the predicate.
_SASS_INSTRUCTION = re.compile(r"^\s*/\*[0-9a-f]+\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)")


def parse_sass_opcodes(text: str) -> dict[str, collections.Counter[str]]:
    """Opcode counts per function (mangled name) of one architecture's ``cuobjdump -sass``."""
    opcodes: dict[str, collections.Counter[str]] = {}
    current: collections.Counter[str] | None = None
    for line in text.splitlines():
        function = _SASS_FUNCTION.match(line)
        if function:
            current = opcodes.setdefault(function.group(1), collections.Counter())
            continue
        instruction = _SASS_INSTRUCTION.match(line)
        if instruction and current is not None:
            current[instruction.group(1)] += 1
    return opcodes


def tensor_core_ops(opcodes: collections.Counter[str]) -> int:
    """How many of a kernel's SASS instructions are tensor-core MMAs (HMMA.*, HGMMA.*)."""
    return sum(n for op, n in opcodes.items() if op.split(".")[0] in ("HMMA", "HGMMA"))


def cuda_kernel_opcodes(
    library: str | os.PathLike[str], arch: int
) -> dict[str, collections.Counter[str]]:
    """Opcode counts of every kernel's SASS for `arch`, keyed by mangled name: for checks that a
    kernel uses the instructions its design relies on (e.g. 16-byte loads)."""
    sass = _dump(_require_cuobjdump(), Path(library), "-sass", "-arch", f"sm_{arch}")
    return parse_sass_opcodes(sass)


def library_archs(library: str | os.PathLike[str]) -> list[int]:
    """The architectures the library carries SASS for (from its fat binaries)."""
    text = _dump(_require_cuobjdump(), Path(library))
    return sorted({int(match.group(1)) for match in map(_ARCH.match, text.splitlines()) if match})


# ---------------------------------------------------------------------------------------------
# Triton kernels, compiled ahead of time in a subprocess.


def triton_kernel_resources(
    archs: Iterable[int] = ARCHS,
    modules: Sequence[str] = TRITON_MODULES,
    timeout: float = 900.0,
    workers: int | None = None,
    progress: bool = False,
) -> list[KernelResources]:
    """Compile every `aot_configs()` entry of `modules` for each arch and read its resources, in
    `workers` subprocesses (default: the CPU count, at most 8); rows in configuration order.
    `progress`: a progress bar on stderr (kernels compiled of all), the run takes minutes."""
    archs = list(archs)
    workers = max(1, workers or min(8, os.cpu_count() or 1))
    child_env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    # The children import the same sr_kernels as this process (checkout or installed package).
    child_env["PYTHONPATH"] = os.pathsep.join(
        [str(_PACKAGE_PARENT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]
    )
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory(prefix="sr_kernels_triton_") as folder:
        children = []
        for shard in range(workers):
            out = Path(folder) / f"resources_{shard}.json"
            errors = Path(folder) / f"stderr_{shard}.txt"
            command = [sys.executable, "-m", __name__, "--out", str(out), "--arch"]
            command += [str(a) for a in archs] + ["--modules", *modules]
            command += ["--shard", str(shard), str(workers)]
            with errors.open("w") as stderr:  # a file: a full pipe would block the child
                process = subprocess.Popen(
                    command, env=child_env, stdout=subprocess.DEVNULL, stderr=stderr
                )
            children.append((process, out, errors))
        rows: list[dict[str, Any]] = []
        try:
            if progress:
                _show_progress(children, modules, len(archs), deadline)
            for process, out, errors in children:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
                if process.returncode != 0 or not out.exists():
                    raise RuntimeError(
                        f"Triton AOT compilation subprocess failed (exit {process.returncode}):"
                        f"\n{errors.read_text()[-4000:]}"
                    )
                rows += json.loads(out.read_text())
        finally:
            for process, _, _ in children:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        rows.sort(key=lambda row: row.pop("order"))
        return [KernelResources(**row) for row in rows]


def _progress_file(out: Path) -> Path:
    """Where a worker adds one line per kernel compiled (for the parent's progress bar)."""
    return out.with_suffix(".progress")


def _show_progress(
    children: Sequence[tuple[subprocess.Popen, Path, Path]],
    modules: Sequence[str],
    arch_count: int,
    deadline: float,
) -> None:
    """A progress bar over the workers' progress files until they all exit (or the deadline)."""
    from tqdm import tqdm

    total = arch_count * sum(len(importlib.import_module(m).aot_configs()) for m in modules)
    with tqdm(total=total, desc="compiling Triton kernels", unit="kernel", file=sys.stderr) as bar:
        while time.monotonic() < deadline:
            done = 0
            for _, out, _ in children:
                path = _progress_file(out)
                done += path.read_text().count("\n") if path.exists() else 0
            bar.update(done - bar.n)
            if all(process.poll() is not None for process, _, _ in children):
                return
            time.sleep(0.5)


# A PTX tensor-core instruction ("mma.sync...", "wgmma.mma_async...", predicated or not).
_PTX_MMA = re.compile(r"^\s*(?:@!?%p\w*\s+)?(?:wgmma|mma)\.", re.M)


def _compile_triton_config(
    config: dict[str, Any], arch: int, tool: str, folder: Path
) -> KernelResources:
    import triton
    from triton.backends.compiler import GPUTarget

    name = str(config["name"])
    function = getattr(config["kernel"], "__name__", "")
    try:
        # "divisible_by_16" (optional): arguments every launch passes as multiples of 16 (aligned
        # pointers, channel counts, NHWC strides); Triton's JIT specialises those by value, so
        # compiling without the hint would check a variant that never runs.
        kernel = config["kernel"]
        attrs = {
            (kernel.arg_names.index(arg),): [["tt.divisibility", 16]]
            for arg in config.get("divisible_by_16", ())
        }
        source = triton.compiler.ASTSource(
            fn=kernel,
            signature=config["signature"],
            constexprs=config.get("constexprs", {}),
            attrs=attrs,
        )
        options = {key: config[key] for key in _OPTION_KEYS if key in config}
        compiled = triton.compile(source, target=GPUTarget("cuda", arch, 32), options=options)
        cubin = folder / f"kernel_{arch}.cubin"
        cubin.write_bytes(compiled.asm["cubin"])
        rows = parse_resource_usage(_dump(tool, cubin), arch=arch)
        # ptxas emits tensor-core instructions only for PTX mma/wgmma: without them the SASS has
        # none, and its disassembly (~0.5 s a kernel, mostly nvdisasm starting) is skipped.
        opcodes = [collections.Counter[str]()]
        if _PTX_MMA.search(compiled.asm["ptx"]):
            opcodes = list(parse_sass_opcodes(_dump(tool, cubin, "-sass")).values())
    except Exception as error:  # reported as a failed kernel, not raised: the check lists all
        message = f"{type(error).__name__}: {error}"
        return KernelResources("triton", name, arch, error=message, function=function)
    if len(rows) != 1 or len(opcodes) != 1:
        message = f"expected 1 kernel in the cubin, found {len(rows)} ({len(opcodes)} in SASS)"
        return KernelResources("triton", name, arch, error=message, function=function)
    fields = rows[0][2]
    return KernelResources(
        source="triton",
        name=name,
        arch=arch,
        registers=fields.get("REG", 0),
        shared_bytes=fields.get("SHARED", 0) + int(getattr(compiled.metadata, "shared", 0)),
        stack_bytes=fields.get("STACK", 0),
        local_bytes=fields.get("LOCAL", 0),
        function=function,
        tensor_core_ops=tensor_core_ops(opcodes[0]),
    )


def _triton_worker(
    archs: Sequence[int], modules: Sequence[str], out: Path, shard: int = 0, shards: int = 1
) -> None:
    """Compile configurations shard, shard + shards, ... (in module and aot_configs order) for
    each arch; each row keeps its place in that order ("order") for the parent to merge."""
    if os.environ.get("TRITON_INTERPRET", "0") == "1":
        raise RuntimeError("the Triton AOT compilation must run without TRITON_INTERPRET=1")
    tool = _require_cuobjdump()
    configs = [c for name in modules for c in importlib.import_module(name).aot_configs()]
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="sr_kernels_cubin_") as folder,
        _progress_file(out).open("w") as progress,
    ):
        for index in range(shard, len(configs), shards):
            for arch_index, arch in enumerate(archs):
                kernel = _compile_triton_config(configs[index], arch, tool, Path(folder))
                results.append({**dataclasses.asdict(kernel), "order": [index, arch_index]})
                progress.write(f"{kernel.name}\n")
                progress.flush()
    out.write_text(json.dumps(results))


# ---------------------------------------------------------------------------------------------
# Reporting.


def all_problems(resources: Iterable[KernelResources]) -> list[str]:
    return [problem for kernel in resources for problem in kernel.problems()]


def format_table(resources: Sequence[KernelResources]) -> str:
    """A fixed-width table: one row per kernel and architecture."""
    header = ("source", "kernel", "arch", "regs", "shared B", "stack B", "local B", "mma", "status")
    rows = [header]
    for k in resources:
        status = "ERROR" if k.error else ("SPILLS" if k.spill_bytes else "ok")
        limit = SHARED_LIMIT_BYTES.get(k.arch)
        if not k.error and limit is not None and k.shared_bytes > limit:
            status = "SHARED>LIMIT" if status == "ok" else status + ",SHARED>LIMIT"
        rows.append(
            (
                k.source,
                k.name,
                f"sm_{k.arch}",
                str(k.registers),
                str(k.shared_bytes),
                str(k.stack_bytes),
                str(k.local_bytes),
                str(k.tensor_core_ops),
                status,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Triton AOT compile worker (internal).")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--arch", type=int, nargs="+", required=True)
    parser.add_argument("--modules", nargs="+", required=True)
    parser.add_argument("--shard", type=int, nargs=2, default=(0, 1), metavar=("I", "N"))
    args = parser.parse_args(argv)
    _triton_worker(args.arch, args.modules, args.out, *args.shard)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
