"""Static GPU checks that run without a GPU: the kernels compile for sm_80 and sm_90, no spills.

* Every Triton kernel, in every configuration the package launches (`aot_configs()` of each
  module in `kernel_resources.TRITON_MODULES`), is compiled ahead of time for sm_80 and sm_90
  (in a subprocess without TRITON_INTERPRET) and must use no stack/local memory (spills) and
  fit the per-block shared memory limit.
* The compiled extension must load with its CUDA kernels, carry SASS for sm_80 and sm_90, and
  every CUDA kernel in it must use no stack/local memory; the PSNR vector kernels must really
  load 16 bytes at a time (their SASS has LDG.E.128).
* Every convolution kernel (Triton and CUDA, every dtype and configuration) runs its matrix
  products on tensor cores: its SASS has HMMA (mma.sync) or HGMMA (wgmma) instructions.
"""

from __future__ import annotations

import ast
import collections
import fcntl
import importlib
import importlib.util
import json
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
import torch

from sr_kernels import _build, _ext
from sr_kernels.tools import kernel_resources as kr

TRITON_DIR = Path(kr.__file__).resolve().parents[1] / "ops" / "triton"
T = TypeVar("T")


# ---------------------------------------------------------------------------------------------
# The checker itself: it must see violations (otherwise a passing check proves nothing).

_SAMPLE_DUMP = """
Fatbin elf code:
================
arch = sm_80
code version = [1,8]

Resource usage:
 Common:
  GLOBAL:0
 Function _ZN2sr8kernel_aIfEEvPKT_:
  REG:40 STACK:0 SHARED:1024 LOCAL:0 CONSTANT[0]:400 TEXTURE:0 SURFACE:0 SAMPLER:0
 Function _ZN2sr8kernel_bIfEEvPKT_:
  REG:255 STACK:48 SHARED:0 LOCAL:8 CONSTANT[0]:400 TEXTURE:0 SURFACE:0 SAMPLER:0

Fatbin elf code:
================
arch = sm_90
code version = [1,8]

Resource usage:
 Function _ZN2sr8kernel_aIfEEvPKT_:
  REG:38 STACK:0 SHARED:240000 LOCAL:0 CONSTANT[0]:400 TEXTURE:0 SURFACE:0 SAMPLER:0
"""


def test_parser_reads_every_kernel_and_arch():
    rows = kr.parse_resource_usage(_SAMPLE_DUMP)
    assert [(arch, name) for arch, name, _ in rows] == [
        (80, "_ZN2sr8kernel_aIfEEvPKT_"),
        (80, "_ZN2sr8kernel_bIfEEvPKT_"),
        (90, "_ZN2sr8kernel_aIfEEvPKT_"),
    ]
    assert rows[1][2]["REG"] == 255 and rows[1][2]["STACK"] == 48 and rows[1][2]["LOCAL"] == 8
    assert rows[2][2]["SHARED"] == 240000


def test_checker_flags_spills_and_shared_memory_over_the_limit():
    ok = kr.KernelResources("cuda", "a", 80, registers=40, shared_bytes=1024)
    spills = kr.KernelResources("cuda", "b", 80, registers=255, stack_bytes=48, local_bytes=8)
    too_much_shared = kr.KernelResources("cuda", "a", 90, shared_bytes=240000)
    fits_on_h100 = kr.KernelResources("triton", "c", 90, shared_bytes=200 * 1024)
    too_much_for_a100 = kr.KernelResources("triton", "c", 80, shared_bytes=200 * 1024)
    failed = kr.KernelResources("triton", "d", 90, error="CompilationError: boom")
    assert ok.problems() == [] and fits_on_h100.problems() == []
    assert "48 bytes stack + 8 bytes local" in spills.problems()[0]
    assert "exceed" in too_much_shared.problems()[0]
    assert "exceed" in too_much_for_a100.problems()[0]
    assert "boom" in failed.problems()[0]
    table = kr.format_table([ok, spills, too_much_shared, failed])
    assert "SPILLS" in table and "SHARED>LIMIT" in table and "ERROR" in table


def test_sass_parser_counts_opcodes_per_function():
    sample = """
		Function : _ZN2sr8kernel_aEv
        /*0000*/                   LDG.E.128 R24, [R26.64] ;          /* 0x0000001e1a187981 */
        /*0010*/               @!P0 LDG.E.128 R8, [R8.64] ;           /* 0x0000001e08087981 */
        /*0020*/               @P1 IADD3 R2, R2, 0x1, RZ ;            /* 0x0000000102021810 */
		Function : _ZN2sr8kernel_bEv
        /*0000*/                   LDG.E.U8 R3, [R4.64] ;             /* 0x0000000004037981 */
"""
    opcodes = kr.parse_sass_opcodes(sample)
    assert opcodes["_ZN2sr8kernel_aEv"] == {"LDG.E.128": 2, "IADD3": 1}
    assert opcodes["_ZN2sr8kernel_bEv"] == {"LDG.E.U8": 1}


def test_tensor_core_ops_counts_hmma_and_hgmma_only():
    opcodes = collections.Counter(
        {"HMMA.16816.F32.BF16": 3, "HGMMA.64x64x16.F32.BF16": 2, "HFMA2": 5, "IMAD": 1}
    )
    assert kr.tensor_core_ops(opcodes) == 5
    assert kr.tensor_core_ops(collections.Counter({"FFMA": 9, "LDSM.16.M88.4": 2})) == 0


def test_ptx_tensor_core_instructions_are_recognised():
    """A Triton kernel is disassembled only when its PTX has one of these (else its SASS has no
    tensor-core instruction to count)."""
    for line in [
        "\tmma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%f1}, {%r1}, {%r2}, {%f2};",
        "\t@%p3 mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%f1}, {%r1}, {%r2}, {%f2};",
        "\twgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {%f1}, %rd1, %rd2, p, 1, 1;",
        "\tmma.sp.sync.aligned.m16n8k32.row.col.f32.bf16.bf16.f32 {%f1}, {%r1}, {%r2};",
    ]:
        assert kr._PTX_MMA.search(f".visible .entry k()\n{{\n{line}\n}}"), line
    for line in ["\tfma.rn.f32 %f1, %f2, %f3, %f4;", "\tmov.f32 %gamma, %f1;", "// mma.sync"]:
        assert not kr._PTX_MMA.search(f".visible .entry k()\n{{\n{line}\n}}"), line


def test_short_name_drops_arguments_and_anonymous_namespace():
    demangled = "void sr::(anonymous namespace)::k<float, (int)4>(float const*, sr::Map<int>)"
    assert kr.short_name(demangled) == "sr::k<float, (int)4>"


# ---------------------------------------------------------------------------------------------
# Triton kernels.


def _jit_kernels(paths: list[Path]) -> set[str]:
    """Names of the @triton.jit kernels in the files: jit functions no jit function calls.

    (Triton does not mark kernels: a jit function called from another one is a device helper,
    compiled inside its callers.)
    """
    jit: dict[str, ast.FunctionDef] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                for decorator in node.decorator_list:
                    target = decorator.func if isinstance(decorator, ast.Call) else decorator
                    if ast.unparse(target) in ("triton.jit", "jit"):
                        jit[node.name] = node
    called = set()
    for function in jit.values():
        for node in ast.walk(function):
            if isinstance(node, ast.Call):
                if isinstance(node.func, ast.Name):
                    called.add(node.func.id)
                elif isinstance(node.func, ast.Attribute):
                    called.add(node.func.attr)
    return set(jit) - called


def _defines_aot_configs(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    return any(isinstance(n, ast.FunctionDef) and n.name == "aot_configs" for n in tree.body)


def _once_per_run(request, tmp_path_factory, name: str, compute: Callable[[], T]) -> T:
    """compute() once per test run. pytest-xdist (the README's `-n auto`) builds module fixtures
    in every worker that runs one of their tests: the first worker stores the result in the
    run's shared temporary folder, under a lock, and the others load it."""
    if not hasattr(request.config, "workerinput"):  # not an xdist worker
        return compute()
    shared = tmp_path_factory.getbasetemp().parent
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        stored = shared / f"{name}.pickle"
        if stored.exists():
            return pickle.loads(stored.read_bytes())
        result = compute()
        stored.write_bytes(pickle.dumps(result))
        return result


@pytest.fixture(scope="module")
def triton_resources(request, tmp_path_factory) -> list[kr.KernelResources]:
    """Every Triton configuration compiled for sm_80 and sm_90 (minutes on 2 cores)."""
    if importlib.util.find_spec("triton") is None:
        pytest.skip("triton is not installed")
    return _once_per_run(
        request, tmp_path_factory, "triton_resources", lambda: kr.triton_kernel_resources(kr.ARCHS)
    )


def test_every_triton_module_with_aot_configs_is_checked():
    modules = {f"sr_kernels.ops.triton.{p.stem}" for p in TRITON_DIR.glob("*.py")}
    with_configs = {
        f"sr_kernels.ops.triton.{p.stem}"
        for p in TRITON_DIR.glob("*.py")
        if _defines_aot_configs(p)
    }
    missing = sorted(with_configs - set(kr.TRITON_MODULES))
    assert not missing, f"add these modules to kernel_resources.TRITON_MODULES: {missing}"
    unknown = sorted(set(kr.TRITON_MODULES) - modules)
    assert not unknown, f"kernel_resources.TRITON_MODULES names missing modules: {unknown}"


def test_triton_compile_shards_cover_every_configuration_once(tmp_path, monkeypatch):
    """The compile workers split the configurations: together every (config, arch) once, each
    row tagged with its place in the serial order (compilation stubbed: a fast check)."""
    if importlib.util.find_spec("triton") is None:
        pytest.skip("triton is not installed")
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    monkeypatch.setattr(kr, "_require_cuobjdump", lambda: "cuobjdump")
    monkeypatch.setattr(
        kr,
        "_compile_triton_config",
        lambda config, arch, tool, folder: kr.KernelResources("triton", config["name"], arch),
    )
    modules = ("sr_kernels.ops.triton.pixel_shuffle", "sr_kernels.ops.triton.psnr_mse")
    names = [c["name"] for m in modules for c in importlib.import_module(m).aot_configs()]
    rows = []
    for shard in range(3):
        out = tmp_path / f"shard_{shard}.json"
        kr._triton_worker((80, 90), modules, out, shard, 3)
        rows += json.loads(out.read_text())
    assert sorted(tuple(row["order"]) for row in rows) == [
        (index, arch) for index in range(len(names)) for arch in range(2)
    ]
    for row in rows:
        assert row["name"] == names[row["order"][0]]
        assert row["arch"] == (80, 90)[row["order"][1]]
    # Each worker also lists what it compiled, one line per kernel (the progress bar's count).
    listed = [kr._progress_file(tmp_path / f"shard_{s}.json").read_text() for s in range(3)]
    assert sum(text.count("\n") for text in listed) == 2 * len(names)


def test_every_triton_kernel_is_compiled(triton_resources):
    """Each @triton.jit kernel in ops/triton/ appears in some aot_configs() entry, on each arch."""
    defined = _jit_kernels(sorted(TRITON_DIR.glob("*.py")))
    assert "_pixel_shuffle_kernel" in defined
    for arch in kr.ARCHS:
        compiled = {k.function for k in triton_resources if k.arch == arch}
        missing = sorted(defined - compiled)
        assert not missing, (
            f"@triton.jit kernels with no aot_configs() entry (never checked for sm_{arch}): "
            f"{missing}"
        )


@pytest.mark.parametrize("arch", kr.ARCHS, ids=lambda a: f"sm_{a}")
def test_triton_kernels_compile_without_spills(triton_resources, arch):
    kernels = [k for k in triton_resources if k.arch == arch]
    assert kernels, f"no Triton kernel configuration was compiled for sm_{arch}"
    problems = kr.all_problems(kernels)
    assert not problems, "\n".join(problems) + "\n" + kr.format_table(kernels)


CONV_OPS = ("residual_block", "conv_pixel_shuffle", "conv2d_act")


@pytest.mark.parametrize("arch", kr.ARCHS, ids=lambda a: f"sm_{a}")
def test_triton_conv_kernels_use_tensor_cores(triton_resources, arch):
    """Every launched conv configuration (fp16/bf16, and fp32 as 3-pass TF32) compiles its
    tl.dot to tensor-core MMAs: a fallback to FMA loops would still pass every test, slowly."""
    convs = [k for k in triton_resources if k.arch == arch and k.name.startswith(CONV_OPS)]
    assert {k.name.split("[")[0] for k in convs} == set(CONV_OPS)
    without = [k for k in convs if k.tensor_core_ops == 0]
    assert not without, kr.format_table(without)


# ---------------------------------------------------------------------------------------------
# CUDA kernels of the compiled extension.


def _cuda_build_impossible() -> str | None:
    if torch.version.cuda is None:
        return "the installed torch is a CPU-only build"
    _build.ensure_cuda_home()
    if _build.find_nvcc(_build.guess_cuda_home()) is None:
        return "no CUDA toolkit (nvcc) found"
    return None


@pytest.fixture(scope="module")
def cuda_library() -> str:
    reason = _cuda_build_impossible()
    if reason:
        pytest.skip(f"cannot build CUDA kernels here: {reason}")
    info = _ext.info()
    assert info.loaded, f"the compiled extension did not load: {info.reason}"
    assert info.with_cuda, f"the extension was built without CUDA kernels: {info.cuda_reason}"
    return info.path


def test_extension_loads_with_cuda_kernels(cuda_library):
    assert torch.ops.sr_kernels.built_with_cuda()
    assert Path(cuda_library).is_file()


def test_extension_carries_sm80_and_sm90(cuda_library):
    archs = kr.library_archs(cuda_library)
    assert set(kr.ARCHS) <= set(archs), f"SASS for {archs}, expected at least {kr.ARCHS}"


SassOpcodes = dict[int, dict[str, collections.Counter[str]]]


@pytest.fixture(scope="module")
def cuda_sass(
    cuda_library, request, tmp_path_factory
) -> tuple[list[kr.KernelResources], SassOpcodes]:
    """Every kernel's resources and, per arch the library carries, its opcode counts: the
    library disassembled once per run (~10 s per arch on 2 cores)."""

    def compute() -> tuple[list[kr.KernelResources], SassOpcodes]:
        archs = kr.library_archs(cuda_library)
        opcodes = {arch: kr.cuda_kernel_opcodes(cuda_library, arch) for arch in archs}
        return kr.cuda_kernel_resources(cuda_library, opcodes=opcodes), opcodes

    return _once_per_run(request, tmp_path_factory, "cuda_sass", compute)


@pytest.fixture(scope="module")
def cuda_resources(cuda_sass) -> list[kr.KernelResources]:
    return cuda_sass[0]


@pytest.fixture(scope="module")
def cuda_opcodes(cuda_sass) -> SassOpcodes:
    return cuda_sass[1]


def test_cuda_kernels_have_no_spills(cuda_resources):
    kernels = cuda_resources
    for arch in kr.ARCHS:
        assert any(k.arch == arch for k in kernels), f"no CUDA kernel found for sm_{arch}"
    # Every kernel is compiled for every architecture the library carries.
    by_arch = {arch: {k.name for k in kernels if k.arch == arch} for arch in kr.ARCHS}
    assert by_arch[kr.ARCHS[0]] == by_arch[kr.ARCHS[-1]]
    problems = kr.all_problems(kernels)
    assert not problems, "\n".join(problems)


def _is_wgmma(kernel: kr.KernelResources) -> bool:
    # The residual block's wgmma configurations: BlockConfig<..., true> (residual_block.cu).
    return "sr::residual_block_kernel<" in kernel.name and ", true>" in kernel.name


def test_cuda_conv_kernels_use_tensor_cores(cuda_resources):
    for arch in kr.ARCHS:
        for op in ("residual_block_kernel", "conv_pixel_shuffle_kernel"):
            instances = [k for k in cuda_resources if k.arch == arch and f"sr::{op}<" in k.name]
            # wgmma kernels are real only in sm_90a code (a trap elsewhere): checked below.
            instances = [k for k in instances if not _is_wgmma(k)]
            assert instances, f"no {op} for sm_{arch}"
            without = [k for k in instances if k.tensor_core_ops == 0]
            assert not without, kr.format_table(without)


def test_wgmma_block_kernels_issue_hgmma_on_sm90(cuda_opcodes):
    """The sm_90 code is sm_90a (_build.DEFAULT_ARCH_LIST), where the wgmma configurations of
    the residual block run their products as HGMMA, not HMMA (the trap stubs of other targets
    have neither). ptxas serialising them (C7520) would not show here: bench timings would."""
    user_archs = os.environ.get("TORCH_CUDA_ARCH_LIST")
    if user_archs and "-DSR_WITH_SM90A" not in _build.cuda_defines(user_archs):
        pytest.skip(f"TORCH_CUDA_ARCH_LIST={user_archs} has no 9.0a: no wgmma kernels")
    assert torch.ops.sr_kernels.built_with_sm90a()
    opcodes = cuda_opcodes[90]
    names = dict(zip(opcodes, map(kr.short_name, kr.demangle(list(opcodes))), strict=True))
    wgmma = {name: names[name] for name in opcodes if ", true>" in names[name]}
    wgmma = {m: n for m, n in wgmma.items() if "sr::residual_block_kernel<" in n}
    assert len(wgmma) == 4, sorted(wgmma.values())  # fp16 / bf16 x 8 / 4 warps
    for mangled, name in wgmma.items():
        ops = opcodes[mangled]
        hgmma = sum(n for op, n in ops.items() if op.startswith("HGMMA."))
        hmma = sum(n for op, n in ops.items() if op.startswith("HMMA."))
        assert hgmma > 0 and hmma == 0, (name, hgmma, hmma)


@pytest.mark.parametrize("arch", kr.ARCHS)
def test_psnr_vector_kernels_load_16_bytes(cuda_opcodes, arch):
    """The PSNR vector path exists for its 16-byte loads, which come from copying an aligned
    16-byte struct: nvcc could lower that copy to narrower loads, and only the SASS shows it."""
    opcodes = cuda_opcodes[arch]
    kernels = {name: ops for name, ops in opcodes.items() if "psnr_mse_vec_kernel" in name}
    assert len(kernels) == 5, sorted(kernels)  # uint8, float16, bfloat16, float32, float64
    narrow = [name for name, ops in kernels.items() if ops["LDG.E.128"] == 0]
    assert not narrow, f"no LDG.E.128 in {narrow}"
