"""The one-way dependency rule of STYLE.md section 1, checked on the source (AST and includes).

Python: every module of the package belongs to a layer (`LAYERS`); a module imports only from
its own layer or below, backends never import the registry or each other, `_build` stays
importable without torch. C++: `csrc/` includes no torch/ATen/c10/Python headers (it is the
torch-free kernel library) and `python/` defines no `__global__` kernel.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sr_kernels"

# Module prefix -> (rank, layer). The longest matching prefix wins; lower ranks never import
# higher ones. A new top-level module or subpackage must be placed here (the test says so).
LAYERS: dict[str, tuple[int, str]] = {
    "sr_kernels._build": (0, "build helpers"),
    "sr_kernels._ext": (1, "extension loader"),
    # Other private modules of ops (_trace, _validate, shared maths such as _cubic) are leaves
    # too: see OPS_LEAF below.
    "sr_kernels.ops.reference": (3, "backends"),
    "sr_kernels.ops.triton": (3, "backends"),
    "sr_kernels.ops._ext": (3, "backends"),
    "sr_kernels.ops": (4, "public ops"),
    "sr_kernels.ops._registry": (4, "public ops"),
    "sr_kernels": (4, "package facade"),
    "sr_kernels.nn": (5, "nn"),
    "sr_kernels.metrics": (5, "metrics/data"),
    "sr_kernels.data": (5, "metrics/data"),
    "sr_kernels.models": (6, "models"),
    "sr_kernels.train": (7, "train/eval"),
    "sr_kernels.eval": (7, "train/eval"),
    "sr_kernels.accelerate": (7, "train/eval"),
    "sr_kernels.tools": (8, "tools"),
    "sr_kernels.benchmarking": (8, "tools"),
    "sr_kernels.cli": (9, "cli"),
    "sr_kernels.__main__": (9, "cli"),
}
# sr_kernels.ops._<name> (not the registry, not the _ext backend): leaves shared by the
# backends and the public ops (_trace, _validate, shared maths).
OPS_LEAF = (2, "ops leaves")
BACKEND_PACKAGES = ("sr_kernels.ops.reference", "sr_kernels.ops.triton", "sr_kernels.ops._ext")
# Beside the stack: metrics and data use public ops and torch, never models, training or cli.
BESIDE = {"sr_kernels.metrics", "sr_kernels.data"}
BESIDE_FORBIDDEN = ("sr_kernels.models", "sr_kernels.train", "sr_kernels.eval", "sr_kernels.cli")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes inside ``if TYPE_CHECKING:`` blocks (type-only imports are allowed)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            for child in node.body:
                inside.update(id(n) for n in ast.walk(child))
    return inside


def imported_modules(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute module) for every import of an sr_kernels module in the file.

    ``from pkg import name`` counts as ``pkg.name`` when that is a module, else as ``pkg``.
    Imports inside functions count too; those under ``if TYPE_CHECKING:`` do not.
    """
    tree = ast.parse(source if source is not None else path.read_text(), filename=str(path))
    skip = _type_checking_nodes(tree)
    this = module_name(path)
    package = this if _is_package(path) else this.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append((node.lineno, candidate if _is_module(candidate) else base))
    return [(line, name) for line, name in found if name.split(".")[0] == "sr_kernels"]


def layer_of(name: str) -> tuple[str, int, str] | None:
    """(matching prefix, rank, layer) for a module name, or None when it is unclassified."""
    best = None
    for prefix, (rank, layer) in LAYERS.items():
        if name == prefix or name.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, rank, layer)
    if best is not None and best[0] == "sr_kernels.ops":
        private = name.removeprefix("sr_kernels.ops.").split(".")[0]
        if private.startswith("_"):
            return ("sr_kernels.ops." + private, *OPS_LEAF)
    # The facade matches only the package itself; its submodules must be classified.
    if best is not None and best[0] == "sr_kernels" and name != "sr_kernels":
        return None
    return best


def _backend_package(name: str) -> str | None:
    return next((p for p in BACKEND_PACKAGES if name == p or name.startswith(p + ".")), None)


def violations(path: Path, source: str | None = None) -> list[str]:
    this = module_name(path)
    where = layer_of(this)
    if where is None:
        return [f"{this}: not classified: add its prefix to LAYERS in tests/test_layering.py"]
    _, rank, layer = where
    problems = []
    for line, target in imported_modules(path, source):
        target_layer = layer_of(target)
        location = f"{path.relative_to(ROOT)}:{line}"
        if target_layer is None:
            problems.append(f"{location}: imports unclassified module {target}")
            continue
        _, target_rank, target_name = target_layer
        if this == "sr_kernels" and target_rank > rank:
            continue  # the package facade may re-export anything
        if target_rank > rank:
            problems.append(
                f"{location}: {this} ({layer}) imports {target} ({target_name}), a higher layer"
            )
        mine, theirs = _backend_package(this), _backend_package(target)
        if mine and theirs and mine != theirs:
            problems.append(f"{location}: backend {this} imports another backend, {target}")
        if mine and target == "sr_kernels.ops._registry":
            problems.append(f"{location}: backend {this} imports the registry")
        if where[0] in BESIDE and target.startswith(BESIDE_FORBIDDEN):
            problems.append(f"{location}: {this} (beside the stack) imports {target}")
    return problems


PY_FILES = sorted(PACKAGE.rglob("*.py"))


def test_package_has_python_files():
    assert len(PY_FILES) > 10


@pytest.mark.parametrize("path", PY_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_layering(path):
    problems = violations(path)
    assert not problems, "\n".join(problems)


def test_build_helpers_do_not_import_torch():
    # setup.py loads _build.py before torch may be installed (build isolation).
    tree = ast.parse((PACKAGE / "_build.py").read_text())
    imported = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ]
    imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert not [name for name in imported if name.split(".")[0] in ("torch", "triton")]


# The checker must catch what it is meant to catch.
@pytest.mark.parametrize(
    ("file", "source", "expected"),
    [
        ("sr_kernels/ops/triton/x.py", "from .._registry import dispatch", "higher layer"),
        ("sr_kernels/ops/_leaf.py", "from . import _registry", "higher layer"),
        ("sr_kernels/ops/_leaf.py", "from .triton import pixel_shuffle", "higher layer"),
        ("sr_kernels/ops/triton/x.py", "from ..reference import pixel_shuffle", "another backend"),
        ("sr_kernels/ops/reference/x.py", "import sr_kernels.ops._ext.pixel_shuffle", "another"),
        ("sr_kernels/metrics/x.py", "from ..models import edsr", "beside the stack"),
        ("sr_kernels/ops/x.py", "def f():\n    from ..cli import main", "higher layer"),
        ("sr_kernels/_ext.py", "from .ops import pixel_shuffle", "higher layer"),
        ("sr_kernels/nn/x.py", "from sr_kernels.models import edsr", "higher layer"),
        ("sr_kernels/newthing.py", "import torch", "not classified"),
    ],
)
def test_checker_catches_violations(file, source, expected):
    problems = violations(ROOT / file, source)
    assert any(expected in problem for problem in problems), problems


def test_checker_allows_legal_imports():
    legal = (
        "from .. import _trace\nfrom ... import _ext\nimport torch\n"
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ...cli import main\n"
    )
    assert violations(ROOT / "sr_kernels/ops/triton/x.py", legal) == []


# ---------------------------------------------------------------------------------------------
# C++: csrc is torch-free; python/ holds bindings only.

CPP_SUFFIXES = {".h", ".hpp", ".cuh", ".c", ".cc", ".cpp", ".cu"}
FORBIDDEN_INCLUDE = re.compile(
    r'^\s*#\s*include\s*[<"]\s*(torch/|ATen/|c10/|caffe2/|pybind11/|Python\.h|torch\.h)',
    re.MULTILINE,
)


def _cpp_files(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*") if p.suffix in CPP_SUFFIXES)


def test_csrc_has_sources():
    assert _cpp_files("csrc") and _cpp_files("python")


def test_csrc_includes_no_torch_headers():
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0).strip()}"
        for path in _cpp_files("csrc")
        for match in FORBIDDEN_INCLUDE.finditer(path.read_text())
    ]
    assert not offenders, "csrc/ must stay torch-free:\n" + "\n".join(offenders)


def test_include_check_catches_torch_headers():
    for line in ("#include <torch/extension.h>", '#include "ATen/ATen.h"', "#  include <c10/x.h>"):
        assert FORBIDDEN_INCLUDE.search(line), line
    assert not FORBIDDEN_INCLUDE.search('#include "sr_kernels/pixel_shuffle.h"')


def test_python_bindings_define_no_kernels():
    offenders = [
        str(path.relative_to(ROOT))
        for path in _cpp_files("python")
        if path.suffix == ".cu" or re.search(r"\b__global__\b", path.read_text())
    ]
    assert not offenders, "kernels belong in csrc/cuda, not python/: " + ", ".join(offenders)
