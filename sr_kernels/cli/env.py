"""`sr-kernels env`: versions, GPU, backends, the extension build; `--kernels`: kernel resources."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "env",
        help="show versions, the GPU, each backend's availability and the extension build",
        description="Show versions, the GPU, each backend's availability and the extension build.",
    )
    parser.add_argument(
        "--kernels",
        action="store_true",
        help="also list every GPU kernel's registers, shared memory and spills for sm_80/sm_90 "
        "(compiles the Triton kernels ahead of time: takes a few seconds per kernel)",
    )
    parser.set_defaults(func=run)


def _versions() -> list[tuple[str, str]]:
    import torch

    rows = [("python", f"{platform.python_version()} ({sys.executable})")]
    rows.append(("sr_kernels", _package_version()))
    cuda = torch.version.cuda or "none (CPU-only build)"
    cudnn = _cudnn_version(torch.backends.cudnn.version()) if torch.version.cuda else "none"
    rows.append(("torch", f"{torch.__version__} (CUDA {cuda}, cuDNN {cudnn})"))
    try:
        import triton

        interpreter = os.environ.get("TRITON_INTERPRET", "0") == "1"
        note = " (TRITON_INTERPRET=1: kernels run on the CPU interpreter)" if interpreter else ""
        rows.append(("triton", f"{triton.__version__}{note}"))
    except Exception as error:  # shown, not raised: env must work on a broken install
        rows.append(("triton", f"not importable: {error}"))
    return rows


def _cudnn_version(number: int | None) -> str:
    # torch reports cuDNN 9.x as major * 10000 + minor * 100 + patch (8.x: * 1000 + * 100).
    if not number:
        return "none"
    if number >= 90000:
        return f"{number // 10000}.{number % 10000 // 100}.{number % 100}"
    return f"{number // 1000}.{number % 1000 // 100}.{number % 100}"


def _package_version() -> str:
    import sr_kernels

    return f"{sr_kernels.__version__} ({os.path.dirname(sr_kernels.__file__)})"


def _gpus() -> list[str]:
    import torch

    if not torch.cuda.is_available():
        return []
    names = []
    for index in range(torch.cuda.device_count()):
        major, minor = torch.cuda.get_device_capability(index)
        names.append(f"{index}: {torch.cuda.get_device_name(index)} (sm_{major}{minor})")
    return names


def _extension_lines(gpus: list[str]) -> list[tuple[str, str]]:
    from .. import _ext
    from ..tools import kernel_resources

    info = _ext.info()
    if not info.loaded:
        return [("loaded", f"no: {info.reason}")]
    rows = [("loaded", f"yes ({info.how})"), ("library", info.path)]
    if info.build_dir:
        rows.append(("build folder", info.build_dir))
    import torch

    isa = torch.ops.sr_kernels.imresize_cpu_isa()
    rows.append(
        (
            "CPU kernels",
            f"{isa} instructions for imresize, pixel_shuffle (SR_KERNELS_CPU_ISA lowers it)",
        )
    )
    isa_problem = _ext.cpu_isa_setting_problem()
    if isa_problem:
        rows.append(("", f"{isa_problem}; the kernels ignore it"))
    if not info.with_cuda:
        rows.append(("CUDA kernels", f"no ({info.cuda_reason or 'built without CUDA'})"))
        return rows
    try:
        archs = ", ".join(f"sm_{a}" for a in kernel_resources.library_archs(info.path))
    except Exception as error:  # cuobjdump missing: fall back to the build's arch list
        archs = f"built for TORCH_CUDA_ARCH_LIST={info.arch_list} ({error})"
    rows.append(("CUDA kernels", f"yes, {archs}"))
    if torch.ops.sr_kernels.built_with_sm90a():
        rows.append(("", "sm_90 code is sm_90a: the wgmma kernels (SR_KERNELS_CUDA_WGMMA=1) exist"))
    if not gpus:
        rows.append(("", "they cannot run here: no CUDA GPU is visible"))
    return rows


def _backend_lines() -> list[tuple[str, str]]:
    from .. import ops
    from ..ops import _registry

    rows = []
    from .main import backend_setting_problem

    problem = backend_setting_problem()
    if problem:
        rows.append(("setting", f"{problem} (the other commands refuse to run until it is fixed)"))
    for backend, reason in ops.available_backends().items():
        if reason:
            rows.append((backend, f"unavailable: {reason}"))
        elif backend == "triton" and _registry.triton_interpreting():
            rows.append((backend, "available (interpreter, CPU tensors)"))
        else:
            rows.append((backend, "available"))
    return rows


def _gpu_archs() -> list[str]:
    """``sm_XY`` of each visible GPU, named as the timings tables name architectures."""
    import torch

    from ..ops import _backend_timings

    if not torch.cuda.is_available():
        return []
    return [
        _backend_timings.device_arch({"device": "cuda", "device_index": i})
        for i in range(torch.cuda.device_count())
    ]


def _timings_line(gpu_archs: list[str]) -> str:
    from ..ops import _backend_timings

    try:
        entries = _backend_timings.entries()
    except ValueError as error:  # a file named by SR_KERNELS_BACKEND_TIMINGS is broken
        return f"none: every automatic choice fails until this is fixed: {error}"
    if not entries:
        return (
            "fixed (no backend timings: `sr-kernels tune` measures them, "
            f"{_backend_timings.ENV_VAR}=off ignores them)"
        )
    measured = {entry.case.arch for entry in entries}
    files = ", ".join(_backend_timings.sources())
    line = (
        f"measured backends fastest first: {len(entries)} cases ({', '.join(sorted(measured))})"
        f" from {files}"
    )
    # A GPU with no timings of its own takes the nearest measured architecture's (a guess: say
    # so), or the fixed order where no GPU was measured.
    for arch in sorted(set(gpu_archs) - measured):
        stand_in = _backend_timings.nearest_arch(arch, measured)
        if stand_in is not None:
            line += f"; none for {arch}: {stand_in}'s stand in"
        else:
            line += f"; none for {arch}: the fixed order decides"
        line += " (`sr-kernels tune` measures its own)"
    return line


def _print_section(title: str, rows: list[tuple[str, str]]) -> None:
    print(title)
    width = max((len(key) for key, _ in rows), default=0)
    for key, value in rows:
        print(f"  {key.ljust(width)}  {value}")


def run(args: argparse.Namespace) -> int:
    gpus = _gpus()
    _print_section("Versions", _versions())
    _print_section("GPU", [("devices", "; ".join(gpus) if gpus else "none visible")])
    _print_section("Backends", _backend_lines())
    _print_section("Automatic choice", [("order", _timings_line(_gpu_archs()))])
    _print_section("Extension (sr_kernels._C)", _extension_lines(gpus))
    if args.kernels:
        return _print_kernels()
    return 0


def _print_kernels() -> int:
    from .. import _ext
    from ..tools import kernel_resources

    print(
        "Kernel resources (per thread: registers, stack/local bytes; per block: shared bytes; "
        "mma: tensor-core instructions in the SASS)"
    )
    resources: list[kernel_resources.KernelResources] = []
    failed = False
    info = _ext.info()
    if info.loaded and info.with_cuda:
        try:
            resources += kernel_resources.cuda_kernel_resources(info.path, kernel_resources.ARCHS)
        except Exception as error:
            print(f"  CUDA kernels: cannot read resource usage: {error}")
            failed = True
    elif not info.loaded:
        print(f"  CUDA kernels: not listed, the extension is not loaded: {info.reason}")
    else:
        print(f"  CUDA kernels: none (the extension was built without them: {info.cuda_reason})")
    try:
        resources += kernel_resources.triton_kernel_resources(
            kernel_resources.ARCHS, progress=sys.stderr.isatty()
        )
    except Exception as error:
        print(f"  Triton kernels: cannot compile ahead of time: {error}")
        failed = True
    resources.sort(key=lambda k: (k.source, k.name, k.arch))
    print(kernel_resources.format_table(resources))
    problems = kernel_resources.all_problems(resources)
    for problem in problems:
        print(f"  PROBLEM: {problem}")
    return 1 if failed else 0
