"""Measured backend timings: the order of the automatic choice where a measurement exists.

STYLE.md section 6 asks the automatic mode for the fastest backend, and no fixed order is the
fastest everywhere (the Triton or CUDA kernel, or cuDNN through the reference, depending on
channels, dtype and GPU). A timings table, written by ``sr-kernels tune``, holds for each
measured case the median time of every backend that could serve it; for inputs of that case the
registry re-sorts the measured backends fastest first among the places they hold in its fixed
order (within 5% of the fastest counts as a tie, which the fixed order decides; a backend not
timed keeps its place) and keeps the fixed order otherwise.

A case is (op, architecture, dtype, memory format, the op's other metadata fields: channels,
out_channels, kernel_size, r, y_channel, ...). Inputs use the measurement of the same op,
architecture, dtype, memory format and non-numeric fields whose numeric fields are nearest
(summed |log2| ratio), each within a factor of 4; sizes such as N, H, W are not part of the
metadata and play no part. Fields in `SETTINGS` (GPU convolutions: ``cudnn_benchmark``) name a
run-time setting: a measurement under the same setting comes first, one under another setting
stands in where there is none. Architecture: ``sm_<major><minor>`` of the tensors' GPU, "cpu"
for CPU tensors. A GPU architecture with no measurement of a case takes the nearest measured
GPU architecture's (the same major version first, then the nearest compute capability: sm_86
takes sm_80's, sm_100 sm_90's): the H200's measurements put cuDNN first for the C = 256 block,
6x faster than ours there, where the fixed order would put our kernel first on every GPU not
measured. `sr-kernels tune` measures a GPU's own.

Tables read (later ones replace earlier entries of the same case), once per process
(`reload` reads them again):
1. ``backend_timings.json`` beside this module, shipped with the package (our own GPU runs);
2. ``$SR_KERNELS_CACHE/backend_timings.json`` (default ``~/.cache/sr_kernels``), where
   ``sr-kernels tune`` writes by default;
3. the files listed in ``SR_KERNELS_BACKEND_TIMINGS`` (separated by ``os.pathsep``).
``SR_KERNELS_BACKEND_TIMINGS=off`` reads none of them (the fixed order everywhere). A broken
file of 1 or 2 is skipped with a warning; one named in 3 is an error naming it.
"""

from __future__ import annotations

import functools
import json
import math
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .. import _ext

FORMAT = "sr_kernels.backend_timings/1"
ENV_VAR = "SR_KERNELS_BACKEND_TIMINGS"
FILE_NAME = "backend_timings.json"
# Metadata fields that are not part of a case's sizes: the device (the architecture stands for
# it), the dtype and the memory format (matched exactly, kept apart for readability).
_NOT_SIZES = frozenset({"device", "device_index", "dtype", "channels_last"})
_MAX_LOG2_DISTANCE = 2.0  # a measurement applies to sizes within a factor of 4
# Fields that name a run-time setting the timings depend on, not the inputs (``conv_meta``: the
# cuDNN autotuner). A measurement under the user's setting is preferred; where there is none,
# one under another setting (or from a table that did not record it) stands in, as the best
# estimate there is: the fixed order would ignore what was measured.
SETTINGS = frozenset({"cudnn_benchmark"})
TIE = 0.05  # backends within 5% of the fastest time count as equally fast


@dataclass(frozen=True)
class Case:
    op: str
    arch: str
    dtype: str
    channels_last: bool
    sizes: tuple[tuple[str, Any], ...]  # sorted (field, value): channels, r, y_channel, ...


@dataclass(frozen=True)
class Entry:
    case: Case
    seconds: tuple[tuple[str, float], ...]  # (backend, median seconds), fastest first
    source: str  # the file it came from
    record: dict[str, Any] = field(compare=False, repr=False)  # as read (what merging writes)


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


@functools.cache
def _cuda_arch(index: int) -> str:
    major, minor = torch.cuda.get_device_capability(index)
    return f"sm_{major}{minor}"


def device_arch(meta: dict[str, Any]) -> str:
    """``sm_XY`` of the GPU the metadata describes, "cpu", or the device kind for others."""
    if meta["device"] == "cuda":
        index = meta.get("device_index")
        return _cuda_arch(torch.cuda.current_device() if index is None else index)
    return str(meta["device"])


def case_of(op: str, meta: dict[str, Any]) -> Case:
    """The case that inputs described by `meta` (the registry's metadata) belong to."""
    sizes = tuple(sorted((k, v) for k, v in meta.items() if k not in _NOT_SIZES))
    return Case(
        op, device_arch(meta), dtype_name(meta["dtype"]), bool(meta["channels_last"]), sizes
    )


def _is_size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def size_distance(measured: tuple, wanted: tuple) -> float | None:
    """Summed |log2 ratio| of the numeric fields; None when a field is missing, a non-numeric
    field differs or a numeric one is more than a factor of 4 away."""
    a, b = dict(measured), dict(wanted)
    if a.keys() != b.keys():
        return None
    total = 0.0
    for name, value in a.items():
        other = b[name]
        if value == other and type(value) is type(other):
            continue
        if not (_is_size(value) and _is_size(other)) or value <= 0 or other <= 0:
            return None
        distance = abs(math.log2(value / other))
        if distance > _MAX_LOG2_DISTANCE:
            return None
        total += distance
    return total


# ---------------------------------------------------------------------------------------------
# Table files.


def entry_to_json(case: Case, seconds: dict[str, float], **extra: Any) -> dict[str, Any]:
    """One case's JSON record (`extra`: what was measured, on which device, versions...)."""
    return {
        "op": case.op,
        "arch": case.arch,
        "dtype": case.dtype,
        "channels_last": case.channels_last,
        "sizes": dict(case.sizes),
        "seconds": dict(sorted(seconds.items(), key=lambda item: item[1])),
        **extra,
    }


def entry_from_json(record: Any, source: str) -> Entry:
    """One JSON record (`entry_to_json`) checked; ValueError saying what is wrong."""
    if not isinstance(record, dict):
        raise ValueError(f"an entry is a {type(record).__name__}, not an object")
    missing = {"op", "arch", "dtype", "channels_last", "sizes", "seconds"} - record.keys()
    if missing:
        raise ValueError(f"an entry lacks {sorted(missing)}")
    sizes, seconds = record["sizes"], record["seconds"]
    if not isinstance(sizes, dict) or not isinstance(seconds, dict) or not seconds:
        raise ValueError("an entry's 'sizes' must be an object and 'seconds' a non-empty object")
    for backend, value in seconds.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < 1e9:
            raise ValueError(f"seconds of {backend!r} must be a positive number, got {value!r}")
    for name in ("op", "arch", "dtype"):
        if not isinstance(record[name], str):
            raise ValueError(f"an entry's {name!r} must be a string, got {record[name]!r}")
    if not isinstance(record["channels_last"], bool):
        raise ValueError(f"'channels_last' must be true or false, got {record['channels_last']!r}")
    for name, value in sizes.items():  # hashable scalars the registry's metadata can hold
        if not (isinstance(value, (bool, str)) or (_is_size(value) and 0 < value < 2**63)):
            raise ValueError(f"size {name!r} must be a positive int, bool or string: {value!r:.40}")
    case = Case(
        record["op"],
        record["arch"],
        record["dtype"],
        record["channels_last"],
        tuple(sorted(sizes.items())),
    )
    ordered = tuple(sorted(((str(b), float(s)) for b, s in seconds.items()), key=lambda i: i[1]))
    return Entry(case, ordered, source, record)


def read_table(path: str | Path) -> list[Entry]:
    """The entries of one timings file, each checked; ValueError naming the file when it is not
    a timings table."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"backend timings file {path}: cannot be read as JSON: {error}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"backend timings file {path}: not a timings table (format {FORMAT!r})")
    if not isinstance(data.get("entries"), list):
        raise ValueError(f"backend timings file {path}: 'entries' must be a list")
    try:
        return [entry_from_json(record, str(path)) for record in data["entries"]]
    except (ValueError, TypeError) as error:
        raise ValueError(f"backend timings file {path}: {error}") from None


def shipped_path() -> Path:
    return Path(__file__).with_name(FILE_NAME)


def user_path() -> Path:
    return _ext.cache_dir() / FILE_NAME


def _explicit_paths() -> list[Path] | None:
    """The files SR_KERNELS_BACKEND_TIMINGS names ([] if unset), None for 'off'."""
    value = os.environ.get(ENV_VAR, "").strip()
    if value == "off":
        return None
    return [Path(part) for part in value.split(os.pathsep) if part]


@functools.cache
def _entries() -> dict[Case, Entry]:
    explicit = _explicit_paths()
    if explicit is None:
        return {}
    merged: dict[Case, Entry] = {}
    for path in (shipped_path(), user_path()):
        if path.exists():
            try:
                merged.update((entry.case, entry) for entry in read_table(path))
            except ValueError as error:
                warnings.warn(f"{error}; ignored", stacklevel=2)
    merged.update((entry.case, entry) for entry in _explicit_entries(explicit))
    return merged


def _explicit_entries(paths: list[Path]) -> list[Entry]:
    """The entries of the tables SR_KERNELS_BACKEND_TIMINGS names, in order; a ValueError
    naming the variable when one cannot be read."""
    found = []
    for path in paths:
        try:
            found += read_table(path)
        except ValueError as error:
            raise ValueError(f"{ENV_VAR}: {error}") from None
    return found


def setting_problem() -> str | None:
    """What is wrong with the tables SR_KERNELS_BACKEND_TIMINGS names, read now (the entries in
    use are read once per process), or None."""
    try:
        _explicit_entries(_explicit_paths() or [])
    except ValueError as error:
        return str(error)
    return None


def entries() -> list[Entry]:
    """Every entry in use, after merging the tables."""
    return list(_entries().values())


def sources() -> list[str]:
    """The files the entries in use come from."""
    return sorted({entry.source for entry in _entries().values()})


def reload() -> None:
    """Read the tables again at the next lookup (`_registry.reload_backend_timings` also
    forgets the choices made with the old ones)."""
    _entries.cache_clear()


def _gpu_arch_number(arch: str) -> int | None:
    """major * 10 + minor of an ``sm_XY`` architecture (sm_90: 90, sm_100: 100), else None."""
    digits = arch.removeprefix("sm_")
    return int(digits) if arch.startswith("sm_") and digits.isdigit() else None


def arch_distance(measured: str, wanted: str) -> tuple[int, int] | None:
    """How far a measurement on `measured` is from inputs on `wanted`: (0, 0) on the same
    architecture; between GPU architectures (another major version, |compute capability
    difference|); None where it does not apply (a CPU measurement for GPU inputs, or back)."""
    if measured == wanted:
        return (0, 0)
    a, b = _gpu_arch_number(measured), _gpu_arch_number(wanted)
    if a is None or b is None:
        return None
    return (int(a // 10 != b // 10), abs(a - b))


def nearest_arch(wanted: str, measured: Iterable[str]) -> str | None:
    """Of the architectures `measured`, the one whose measurements stand in for `wanted`'s
    (`arch_distance`; equally near ones by name, as `measurement_for` ranks them), or None."""
    near = [arch for arch in measured if arch_distance(arch, wanted) is not None]
    return min(near, key=lambda arch: (arch_distance(arch, wanted), arch), default=None)


def measurement_for(op: str, meta: dict[str, Any]) -> Entry | None:
    """The entry whose measurement decides the order for `meta`, or None."""
    table = _entries()
    if not table:
        return None
    wanted = case_of(op, meta)
    wanted_sizes, wanted_settings = _split_settings(wanted.sizes)
    best, best_key = None, None
    for case, entry in table.items():
        if (case.op, case.dtype, case.channels_last) != (
            wanted.op,
            wanted.dtype,
            wanted.channels_last,
        ):
            continue
        arch = arch_distance(case.arch, wanted.arch)
        if arch is None:
            continue
        sizes, settings = _split_settings(case.sizes)
        distance = size_distance(sizes, wanted_sizes)
        if distance is None:
            continue
        # The own architecture first, then the nearest one; equally near measurements (C = 128
        # between 64 and 256): the smaller sizes, whatever the order of the files (sizes differ
        # only in ints here: size_distance checked), then the architecture's name.
        key = (arch, settings != wanted_settings, distance, case.sizes, case.arch)
        if best_key is None or key < best_key:
            best, best_key = entry, key
    return best


def _split_settings(fields: tuple) -> tuple[tuple, tuple]:
    """(the size fields, the SETTINGS fields) of a case's sorted fields."""
    sizes = tuple(item for item in fields if item[0] not in SETTINGS)
    settings = tuple(item for item in fields if item[0] in SETTINGS)
    return sizes, settings


def ranked(seconds: dict[str, float], order: tuple[str, ...]) -> tuple[str, ...]:
    """`order` with its timed backends re-sorted fastest first among the places they hold.

    Backends within `TIE` of the fastest count as equally fast and keep their fixed order
    (a 1% difference is noise on a busy machine, and the choice should not flip with it); a
    backend not timed (not available when measured) keeps its place, so it is not put behind
    the reference."""
    timed = [backend for backend in order if backend in seconds]
    if not timed:
        return order
    fastest = min(seconds[backend] for backend in timed)

    def rank(backend: str) -> tuple[float, int]:
        time = seconds[backend]
        return (0.0 if time <= fastest * (1 + TIE) else time, order.index(backend))

    resorted = iter(sorted(timed, key=rank))
    return tuple(next(resorted) if backend in seconds else backend for backend in order)


def measured_order(op: str, meta: dict[str, Any], order: tuple[str, ...]) -> tuple[str, ...]:
    """`order` re-ranked by the measurement for `meta` (`ranked`); `order` itself when nothing
    was measured for these inputs."""
    entry = measurement_for(op, meta)
    return order if entry is None else ranked(dict(entry.seconds), order)
