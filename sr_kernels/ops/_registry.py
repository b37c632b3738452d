"""Backends, capability predicates and the selection policy (STYLE.md section 6).

Each op registers, per backend, the module that implements it. A backend module for op ``X``
defines ``X(...)`` and ``supports(meta) -> str | None`` (None: can serve; else the reason).
`meta` is a plain dict built from tensor metadata only (device, dtype, layout and op-specific
sizes), so the decision is the same under torch.compile and never looks at data.

Policy:
* explicit (``use_backend(name)`` or ``SR_KERNELS_BACKEND=name``): that backend or an error
  naming why it cannot serve; never a silent substitute.
* automatic: the op's preference order for the tensors' device, the backends measured for such
  inputs re-sorted fastest first (`_backend_timings`: tables written by ``sr-kernels tune``);
  CPU tensors never go to the Triton interpreter (a testing device, chosen only explicitly).
"""

from __future__ import annotations

import functools
import importlib
import operator
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from packaging.version import Version

from .. import _ext
from . import _backend_timings
from ._layout import is_channels_last

BACKENDS = ("cuda", "triton", "cpu", "reference")
_ENV_VAR = "SR_KERNELS_BACKEND"


class BackendUnavailableError(RuntimeError):
    """An explicitly requested backend cannot serve these inputs (the message says why)."""


class _Implementation:
    """Slot for one backend's function, filled when the backend is first selected.

    Created at registration (before any tracing) and filled by attribute: dynamo snapshots a
    dict's contents when it first reads it, so a dict filled during a compiled region would miss
    ops first selected later in that region; an object's attribute is read when accessed.
    """

    def __init__(self) -> None:
        self.function: Callable[..., Any] | None = None


@dataclass(frozen=True)
class OpSpec:
    name: str
    modules: dict[str, str]  # backend -> module implementing the op
    gpu_order: tuple[str, ...]
    cpu_order: tuple[str, ...]
    slots: dict[str, _Implementation]
    # Whose measured timings order the backends: the op itself, or an op on the same kernels.
    timings_op: str


_OPS: dict[str, OpSpec] = {}


class _ForcedBackends(threading.local):
    """`use_backend` choices, per thread: one thread's choice never moves another's ops (a
    process-wide stack did, and overlapping exits from two threads popped each other's).
    `stack` holds the names (what the ops read, also under torch.compile: a ContextVar, which
    would follow asyncio tasks, breaks fullgraph tracing on torch 2.11), `owners` one token per
    block, so that a block leaving out of order removes its own entry, not the top one."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.owners: list[object] = []


_forced = _ForcedBackends()


def register_op(
    name: str,
    modules: dict[str, str],
    gpu_order: tuple[str, ...] = ("cuda", "triton", "reference"),
    cpu_order: tuple[str, ...] = ("cpu", "reference"),
    timings_op: str | None = None,
) -> None:
    """Register op `name`, implemented by `modules` (backend -> module path). `timings_op`: an
    op whose measured backend timings also order this one's backends, for an op that runs the
    same kernels (psnr on psnr_mse's), so that it needs no tuning cases of its own."""
    unknown = set(modules) - set(BACKENDS)
    if unknown:
        raise ValueError(f"unknown backends {sorted(unknown)} for op {name!r}")
    slots = {backend: _Implementation() for backend in modules}
    _OPS[name] = OpSpec(name, dict(modules), gpu_order, cpu_order, slots, timings_op or name)
    for backend in ("cuda", "cpu"):  # wrappers over torch.ops.sr_kernels: import them (their
        if backend in modules:  # fake kernels, autograd) as soon as the extension is loaded
            _ext.on_load(functools.partial(_module, modules[backend]))


def registered_ops() -> list[str]:
    return sorted(_OPS)


def timings_op(op: str) -> str:
    """The op whose measured timings order `op`'s backends (`op` itself unless registered with
    `timings_op`)."""
    return _OPS[op].timings_op


# ---------------------------------------------------------------------------------------------
# Backend availability (per device kind), cached: it depends on the process, not on inputs.


@functools.cache
def _triton_import_reason() -> str | None:
    try:
        import triton  # noqa: F401
    except Exception as error:  # triton missing or broken
        return f"triton is not importable: {error}"
    return None


def triton_interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def interpreter_incompatibility(triton_version: str, numpy_version: str) -> str | None:
    """Why the Triton interpreter cannot run our kernels with these versions, or None.

    Triton < 3.7's interpreter turns a scalar argument used as a loop bound into an int with
    int() of a 1-element array, which NumPy >= 2.4 refuses (triton-lang/triton#9171, fixed in
    3.7); torch 2.11 pins Triton 3.6. Compiled Triton on a GPU is not affected.
    """
    if Version(triton_version).release < (3, 7) and Version(numpy_version).release >= (2, 4):
        return (
            f"the Triton {triton_version} interpreter fails with NumPy {numpy_version} "
            "(triton-lang/triton#9171, fixed in Triton 3.7): install 'numpy<2.4' "
            "or Triton >= 3.7 to run Triton kernels under TRITON_INTERPRET=1"
        )
    return None


def _triton_interpreter_reason() -> str | None:  # backend_reason caches it
    import numpy
    import triton

    return interpreter_incompatibility(triton.__version__, numpy.__version__)


@functools.cache
def backend_reason(backend: str, device_type: str) -> str | None:
    """None if `backend` can run kernels on tensors of `device_type`, else the reason."""
    if backend == "reference":
        return None
    if backend == "triton":
        reason = _triton_import_reason()
        if reason:
            return reason
        if device_type == "cpu":
            if not triton_interpreting():
                return "Triton runs CPU tensors only under the interpreter (TRITON_INTERPRET=1)"
            return _triton_interpreter_reason()
        if device_type == "cuda":
            if triton_interpreting():
                return "TRITON_INTERPRET=1 is set: Triton kernels run on the CPU interpreter"
            return None if torch.cuda.is_available() else "no CUDA device visible"
        return f"Triton does not run on {device_type} tensors"

    if not _ext.load():
        return f"the compiled extension is not loaded: {_ext.info().reason}"
    if backend == "cpu":
        return (
            None
            if device_type == "cpu"
            else f"the cpu backend takes CPU tensors, not {device_type}"
        )
    if backend == "cuda":
        if device_type != "cuda":
            return f"the cuda backend takes CUDA tensors, not {device_type}"
        if not _ext.info().with_cuda:
            return f"the extension was built without CUDA kernels ({_ext.info().cuda_reason})"
        return None if torch.cuda.is_available() else "no CUDA device visible"
    raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")


def available_backends() -> dict[str, str]:
    """Each backend and, for this machine, '' if usable on some device or the reason it is not."""
    status = {}
    for backend in BACKENDS:
        reasons = [backend_reason(backend, d) for d in ("cuda", "cpu")]
        usable = [r for r in reasons if r is None]
        status[backend] = "" if usable else "; ".join(dict.fromkeys(r for r in reasons if r))
    return status


# ---------------------------------------------------------------------------------------------
# Explicit choice.


@contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Force every op inside the block onto backend `name` (raises if it cannot serve)."""
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    if torch.compiler.is_compiling():
        # Traced (use_backend inside a compiled function): nothing suspends inside one graph,
        # so the block is nested; the plain form, which dynamo traces (torch 2.11 could not
        # trace the owner bookkeeping below).
        _forced.stack.append(name)
        try:
            yield
        finally:
            _forced.stack.pop()
        return
    owner = object()
    _forced.stack.append(name)
    _forced.owners.append(owner)
    try:
        yield
    finally:
        _leave(owner, name)


def _leave(owner: object, name: str) -> None:
    """Remove `use_backend`'s entry `owner` (its own, wherever it is in the stack)."""
    forced = _forced
    at = next((i for i, o in enumerate(forced.owners) if o is owner), None)
    if at is None:  # closed on another thread (a generator finalised there): not this stack's
        return
    del forced.stack[at], forced.owners[at]
    if at != len(forced.owners):
        # Another block entered after this one and is still open: the two overlapped on this
        # thread (asyncio tasks or generators suspended inside them), so ops in this one after
        # that entry ran on the other's backend.
        warnings.warn(
            f"use_backend({name!r}) overlapped another use_backend block on this thread "
            "(asyncio tasks or generators that suspend inside one): the choice is per thread, "
            "so ops in one block may have run on the other's backend. Enter use_backend inside "
            "each task around code that does not await.",
            RuntimeWarning,
            stacklevel=4,
        )


def forced_backend(eager: bool = False) -> str | None:
    """The backend `use_backend` or SR_KERNELS_BACKEND forces, None for the automatic choice.
    `eager`: read the variable the fast way (`_environ_backend`), outside torch.compile only."""
    if _forced.stack:
        return _forced.stack[-1]
    env = (_environ_backend() if eager else os.environ.get(_ENV_VAR)) or "auto"
    if env == "auto":
        return None
    if env not in BACKENDS:
        raise ValueError(f"{_ENV_VAR} must be 'auto' or one of {BACKENDS}, got {env!r}")
    return env


def _environ_backend() -> str | None:
    """``os.environ.get(SR_KERNELS_BACKEND)`` from os.environ's own table (CPython's
    ``_Environ._data``, kept in step by every os.environ write, monkeypatch's included).
    ``os.environ.get`` of an unset variable raises and catches a KeyError inside: ~30 us right
    after a large CPU op flushed the caches (2-core machine), a fifth of the EDSR head's
    overhead over nn.Conv2d; this ~5 us. Not under torch.compile, which traces os.environ.get."""
    environ = os.environ
    table = getattr(environ, "_data", None)
    if table is None:  # not CPython's os.environ (replaced, or another Python)
        return environ.get(_ENV_VAR)
    raw = table.get(_ENV_KEY)
    return None if raw is None else environ.decodevalue(raw)


# SR_KERNELS_BACKEND as os.environ's table stores keys (CPython's ``encodekey``: the name
# encoded on POSIX, upper-cased on Windows). Fixed here rather than asked of os.environ, which
# a test may have replaced by a dict when this module is first imported. (An os._Environ with
# another key encoding put in os.environ's place would not be seen.)
_ENV_KEY: str | bytes = _ENV_VAR.upper() if os.name == "nt" else os.fsencode(_ENV_VAR)


# ---------------------------------------------------------------------------------------------
# Selection.


@functools.cache
def _module(path: str) -> Any:
    with _ext.import_lock:  # one thread imports backend modules at a time (see _ext)
        return importlib.import_module(path)


def _supports_reason(spec: OpSpec, backend: str, meta: dict[str, Any]) -> str | None:
    if backend not in spec.modules:
        return f"no {backend} implementation of {spec.name}"
    reason = backend_reason(backend, meta["device"])
    if reason:
        return reason
    try:
        module = _module(spec.modules[backend])
    except ImportError as error:
        return f"{spec.modules[backend]} cannot be imported: {error}"
    return module.supports(meta)


def _select(op: str, meta_items: tuple[tuple[str, Any], ...], forced: str | None) -> str:
    spec = _OPS[op]
    meta = dict(meta_items)
    if forced is not None:
        reason = _supports_reason(spec, forced, meta)
        if reason:
            raise BackendUnavailableError(f"{op}: backend {forced!r} cannot serve {meta}: {reason}")
        return forced
    if meta["device"] in ("cuda", "cpu"):
        candidates = candidate_backends(op, meta["device"])
        order = _backend_timings.measured_order(spec.timings_op, meta, candidates)
    else:
        order = ("reference",)
    reasons: dict[str, str] = {}
    for backend in order:
        reason = _supports_reason(spec, backend, meta)
        if reason is None:
            _passed_over[(op, meta_items)] = reasons
            return backend
        reasons[backend] = reason
    raise BackendUnavailableError(f"{op}: no backend can serve {meta}: {reasons}")


# (op, meta items) -> {backend: reason} for the backends the automatic choice tried before the
# one it took (explain_choices): e.g. why a residual block with C = 24 runs on the reference.
_passed_over: dict[tuple[str, tuple[tuple[str, Any], ...]], dict[str, str]] = {}


# (op, meta items, forced backend) -> the backend chosen. The choice depends only on metadata
# and on what this process can run (`backend_reason` is cached too), so it is made once per key:
# op calls are often small, and on a CPU whose caches the previous call's tensors flushed every
# Python step of a full selection costs microseconds.
_chosen: dict[tuple[str, tuple[tuple[str, Any], ...], str | None], str] = {}
_generation = [0]  # bumped by forget_choices


# Prefix of _select_constant's result when no backend can serve the inputs (the rest: why).
_UNAVAILABLE = "unavailable: "


@torch.compiler.assume_constant_result
def _select_constant(op: str, meta_items: tuple[tuple[str, Any], ...], forced: str | None) -> str:
    # Under torch.compile this runs once at trace time (it reads only metadata) and its result
    # is a constant; it also imports the chosen module, which dynamo must not trace.
    key = (op, meta_items, forced)
    backend = _chosen.get(key)
    if backend is None:
        generation = _generation[0]
        try:
            backend = _select(op, meta_items, forced)
        except BackendUnavailableError as error:
            # Returned, for `select` to raise: dynamo turns an exception raised here into an
            # InternalTorchDynamoError, which `except BackendUnavailableError` would not catch.
            return _UNAVAILABLE + str(error)
        slot = _OPS[op].slots[backend]
        if slot.function is None:
            slot.function = getattr(_module(_OPS[op].modules[backend]), op)
        if generation == _generation[0]:  # not made from tables forgotten meanwhile
            _chosen[key] = backend
    return backend


def choices() -> list[tuple[str, dict[str, Any], str | None, str]]:
    """The choices made so far: (op, metadata, forced backend or None, backend chosen)."""
    made = list(_chosen.items())  # one C call: a snapshot even while other threads choose
    return [(op, dict(items), forced, chosen) for (op, items, forced), chosen in made]


def explain_choices(op: str | None = None) -> str:
    """The backend choices made so far in this process (for `op`, or every op), one line each:
    the inputs' metadata, the backend chosen and, for an automatic choice, why each backend
    ahead of it in the order was passed over. E.g. after a residual block with C = 24 on a GPU:
    ``residual_block {...}: reference (cuda: ...; triton: C = 24 is not a multiple of 16)``."""
    lines = []
    for name, meta, forced, chosen in choices():
        if op is not None and name != op:
            continue
        if forced is not None:
            why = f"forced by use_backend / SR_KERNELS_BACKEND={forced}"
        else:
            skipped = _passed_over.get((name, tuple(meta.items())))
            if skipped is None:
                why = "reasons not recorded"
            else:
                why = "; ".join(f"{b}: {r}" for b, r in skipped.items()) or "first in the order"
        lines.append(f"{name} {meta}: {chosen} ({why})")
    return "\n".join(lines) if lines else "no choices made yet"


def forget_choices() -> None:
    """Choose again at the next call of every op (after the timings tables changed)."""
    _passed_over.clear()  # first: a choice made after the bump keeps its reasons
    _generation[0] += 1
    _chosen.clear()


def reload_backend_timings() -> None:
    """Read the backend timings tables again and choose anew with them."""
    _backend_timings.reload()
    forget_choices()


def candidate_backends(op: str, device: str) -> tuple[str, ...]:
    """The backends the automatic choice considers for `op` on `device` ("cuda" or "cpu"), in
    the fixed order (before measurements reorder them)."""
    spec = _OPS[op]
    return spec.gpu_order if device == "cuda" else spec.cpu_order


def _concrete(value: Any) -> Any:
    """A symbolic size or flag (torch.compile with dynamic shapes) as its Python value: the
    choice depends on it (channel counts decide what a kernel supports), so the compiled graph
    is specialised on it, with a guard, like any Python branch on a size."""
    # Dynamo presents a SymInt as an int (and a SymBool as a bool); `operator.index` and
    # `bool` specialise them there and outside it.
    if isinstance(value, bool | torch.SymBool):
        return bool(value)
    if isinstance(value, int | torch.SymInt):
        return operator.index(value)
    return value


def select(op: str, meta: dict[str, Any]) -> str:
    """The backend that will run `op` for inputs described by `meta`."""
    items: Iterable[tuple[str, Any]] = meta.items()
    if torch.compiler.is_compiling():
        items = [(key, _concrete(value)) for key, value in items]
        forced = forced_backend()
    else:
        forced = forced_backend(eager=True)
    # In the op's own order, unsorted: each op builds its metadata the same way every call, and
    # sorting cost ~10 us a call right after a large CPU op flushed the caches.
    backend = _select_constant(op, tuple(items), forced)
    if backend.startswith(_UNAVAILABLE):
        raise BackendUnavailableError(backend[len(_UNAVAILABLE) :])
    return backend


def dispatch(op: str, meta: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    """Select a backend for `meta` and call its implementation of `op`."""
    if torch.compiler.is_compiling():
        backend = select(op, meta)
    else:
        # `select`'s eager path, inlined for a choice made before: each Python call here costs
        # microseconds right after a large CPU op flushed the caches (EDSR head, 2-core machine).
        stack = _forced.stack
        table = getattr(os.environ, "_data", None)  # as `_environ_backend` reads the variable
        if stack:
            forced: str | None = stack[-1]
        elif table is not None and _ENV_KEY not in table:  # unset: the automatic choice
            forced = None
        else:
            forced = forced_backend(eager=True)  # reads the variable and checks it
        backend = _chosen.get((op, tuple(meta.items()), forced)) or select(op, meta)
    function = _OPS[op].slots[backend].function
    assert function is not None, f"{op}: backend used before it was selected"
    return function(*args, **kwargs)


def tensor_meta(x: torch.Tensor, **extra: Any) -> dict[str, Any]:
    """The metadata every selection sees: device kind, dtype, memory format; for CUDA tensors
    also the device index (the GPU's architecture decides which measured timings apply)."""
    # The device kind from the flags: right after a large CPU op flushed the caches,
    # ``x.device.type`` measured ~10 us, the flags ~0.
    device = "cuda" if x.is_cuda else "cpu" if x.is_cpu else x.device.type
    channels_last = False if x.is_contiguous() else is_channels_last(x)  # NCHW: no call
    meta = {"device": device, "dtype": x.dtype, "channels_last": channels_last, **extra}
    if device == "cuda":
        meta["device_index"] = x.get_device()
    return meta


def conv_meta(x: torch.Tensor, **extra: Any) -> dict[str, Any]:
    """`tensor_meta` of a convolution op's input; for CUDA tensors also whether cuDNN autotunes
    (``torch.backends.cudnn.benchmark``). The reference backend runs cuDNN, whose speed depends
    on it (H200, bf16 C = 64 block: 202 us off, 129 us on), so timings are measured and matched
    per setting, and the choice is made again when the setting changes."""
    meta = tensor_meta(x, **extra)
    if meta["device"] == "cuda":
        meta["cudnn_benchmark"] = bool(torch.backends.cudnn.benchmark)
    return meta
