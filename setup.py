"""Build script. `pip install .` never needs torch at build time.

* With build isolation (plain `pip install .`) torch is not visible here: the package is
  installed with its C++/CUDA sources and the extension is built just in time on first use,
  against the torch that is installed then (see sr_kernels/_ext.py).
* `pip install --no-build-isolation .` with torch installed builds `sr_kernels._C` ahead of
  time (SR_KERNELS_BUILD_EXT=auto|1|0; 1 fails when it cannot build, 0 never builds).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def _load_build_helpers():
    spec = importlib.util.spec_from_file_location("_sr_build", ROOT / "sr_kernels" / "_build.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


_build = _load_build_helpers()


class BuildPyWithSources(build_py):
    """Ship csrc/ and python/ inside the package so that the JIT build can find them."""

    def run(self):
        super().run()
        target = Path(self.build_lib) / "sr_kernels" / "_csrc"
        for folder in ("csrc", "python"):
            destination = target / folder
            if destination.exists():
                shutil.rmtree(destination)
            shutil.copytree(ROOT / folder, destination)


def _extension_modules():
    mode = os.environ.get("SR_KERNELS_BUILD_EXT") or "auto"  # empty: unset, as at run time
    if mode not in ("auto", "0", "1"):
        sys.exit(f"SR_KERNELS_BUILD_EXT must be auto, 0 or 1, got {mode!r}")
    if mode == "0":
        return [], {}
    problem = _build.with_cuda_setting_problem()
    if problem:  # a typo must not start (or skip) a build of minutes
        sys.exit(problem)
    _build.ensure_cuda_home()
    try:
        import torch
        from torch.utils import cpp_extension
    except ImportError:
        if mode == "1":
            sys.exit(
                "SR_KERNELS_BUILD_EXT=1 needs torch at build time: "
                "pip install --no-build-isolation ."
            )
        print("sr_kernels: torch not visible at build time; the extension is built on first use")
        return [], {}

    reason = _build.cuda_build_reason(torch.version.cuda, cpp_extension.CUDA_HOME)
    with_cuda = reason is None
    if with_cuda:
        arch = _build.arch_list(_build.gpu_capabilities(torch.cuda))
        if arch:
            os.environ["TORCH_CUDA_ARCH_LIST"] = arch
    else:
        print(f"sr_kernels: building without CUDA kernels ({reason})")

    srcs = [str(p.relative_to(ROOT)) for p in _build.sources(ROOT, with_cuda)]
    includes = [str(p) for p in _build.include_dirs(ROOT)]
    kind = cpp_extension.CUDAExtension if with_cuda else cpp_extension.CppExtension
    # arch_list returns a TORCH_CUDA_ARCH_LIST the user set, so `arch` is the list built for.
    defines = _build.cuda_defines(arch) if with_cuda else []
    ext = kind(
        name="sr_kernels._C",
        sources=srcs,
        include_dirs=includes,
        extra_compile_args={
            "cxx": _build.CXX_FLAGS + defines,
            "nvcc": _build.NVCC_FLAGS + defines,
        },
        extra_link_args=_build.LD_FLAGS,
    )
    build_ext = cpp_extension.BuildExtension.with_options(no_python_abi_suffix=True)
    if mode == "auto":
        build_ext = _optional(build_ext)
    return [ext], {"build_ext": build_ext}


def _optional(build_ext):
    """`build_ext` that lets the install go on without the extension when the build fails (auto
    mode, as the README promises: SR_KERNELS_BUILD_EXT=1 is the one that fails the install).
    The JIT build tries again on first use and says why it failed; ops meanwhile run on the
    Triton and reference backends."""

    class OptionalBuildExt(build_ext):
        failed = False

        def run(self):
            try:
                super().run()
            except Exception as error:  # compiler, linker or ninja: each raises its own type
                self.failed = True
                # A library an earlier build left in build/ would otherwise be packaged (and
                # loaded before the JIT build) as if this build had made it.
                for ext in self.extensions:
                    Path(self.get_ext_fullpath(ext.name)).unlink(missing_ok=True)
                first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
                print(
                    "sr_kernels: the compiled extension did not build ahead of time "
                    f"({first_line}); installing without it: it is built on first use, or ops "
                    "run without it. SR_KERNELS_BUILD_EXT=1 makes this fail the install.",
                    file=sys.stderr,
                )

        # Nothing built, nothing to install (an editable install copies these).
        def get_outputs(self):
            return [] if self.failed else super().get_outputs()

        def get_output_mapping(self):
            return {} if self.failed else super().get_output_mapping()

    return OptionalBuildExt


ext_modules, ext_cmdclass = _extension_modules()
setup(
    ext_modules=ext_modules,
    cmdclass={"build_py": BuildPyWithSources, **ext_cmdclass},
)
