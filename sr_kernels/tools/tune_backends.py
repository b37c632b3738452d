"""Time every backend of each op on this machine and write the timings table the registry reads.

``sr-kernels tune`` runs this: for each workload (an op on inputs typical of SR networks, per
channels, dtype and memory format) it times every backend of the op's automatic order that can
serve the inputs, interleaved round by round (one batch of calls of each backend per round,
median over rounds), and merges the result into a timings table
(`sr_kernels.ops._backend_timings`). Afterwards the automatic choice tries the measured backends
fastest first for inputs of the same case. The table is written after every workload, so an
interrupted run keeps what it measured.

Sizes (N, H, W) are not part of a case: each workload stands for its (channels, dtype, format)
case at the size given here, the sizes the benchmarks and the issues' targets use on a GPU
(smaller on a CPU, where the measurements are only to check that the choice is right).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from .. import ops
from ..benchmarking import folder_problem
from ..ops import _backend_timings, _registry

TUNABLE_OPS = (
    "residual_block",
    "conv_pixel_shuffle",
    "conv2d_act",
    "pixel_shuffle",
    "pixel_unshuffle",
    "psnr_mse",
    "ssim_mean",
    "imresize",
)
CONV_DTYPES = ("bfloat16", "float16", "float32")
TUNE_DTYPES = (*CONV_DTYPES, "uint8")  # every dtype a case is measured in
DEFAULT_CHANNELS = (64, 256)
# Ops whose reference backend runs cuDNN: on a GPU each case is measured with cuDNN's autotuner
# off and on (`torch.backends.cudnn.benchmark`; `_registry.conv_meta` puts it in the case).
CUDNN_OPS = ("residual_block", "conv_pixel_shuffle", "conv2d_act")
_MAX_CALLS_PER_ROUND = 1000


@dataclass
class Workload:
    op: str  # the registry's op name
    label: str  # what is timed, for people
    dtype: str
    channels_last: bool
    make: Callable[[torch.device], Callable[[], Any]]  # builds the inputs, returns the call
    cudnn_benchmark: bool | None = None  # the cuDNN autotuner setting to measure under


@dataclass
class Measurement:
    workload: Workload
    case: _backend_timings.Case | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    # The backends whose capability check accepted the inputs, in the fixed order (those that
    # then failed included): the automatic choice only ever picks among them.
    accepted: list[str] = field(default_factory=list)

    @property
    def fixed_choice(self) -> str | None:
        """What the fixed order picks (before measurements)."""
        return self.accepted[0] if self.accepted else None

    @property
    def choice(self) -> str | None:
        """What the automatic choice picks with this measurement (`_backend_timings.ranked`)."""
        if not self.seconds:
            return None
        return _backend_timings.ranked(self.seconds, tuple(self.accepted))[0]


# ---------------------------------------------------------------------------------------------
# Workloads.


def _image(shape: Sequence[int], dtype: torch.dtype, device: torch.device, nhwc: bool):
    generator = torch.Generator().manual_seed(0)
    if dtype == torch.uint8:
        x = torch.randint(0, 256, tuple(shape), generator=generator, dtype=torch.uint8)
    else:
        x = torch.rand(tuple(shape), generator=generator).to(dtype)
    x = x.to(device)
    return x.contiguous(memory_format=torch.channels_last) if nhwc else x


def _conv_weights(c_out: int, c_in: int, k: int, dtype: torch.dtype, device: torch.device):
    generator = torch.Generator().manual_seed(1)
    bound = 1.0 / math.sqrt(c_in * k * k)  # nn.Conv2d's default initialisation range
    w = (torch.rand(c_out, c_in, k, k, generator=generator) * 2 - 1) * bound
    b = (torch.rand(c_out, generator=generator) * 2 - 1) * bound
    # channels_last, as models keep their parameters and as the benchmarks pass them: NCHW
    # weights would time a per-call weight copy that no model pays.
    w = w.to(device, dtype).contiguous(memory_format=torch.channels_last)
    return w, b.to(device, dtype)


def _layout_name(nhwc: bool) -> str:
    return "nhwc" if nhwc else "nchw"


def _residual_block(c: int, hw: tuple[int, int], dtype: str) -> Workload:
    torch_dtype = getattr(torch, dtype)

    def make(device: torch.device) -> Callable[[], Any]:
        x = _image((1, c, *hw), torch_dtype, device, True)
        w1, b1 = _conv_weights(c, c, 3, torch_dtype, device)
        w2, b2 = _conv_weights(c, c, 3, torch_dtype, device)
        return lambda: ops.residual_block(x, w1, b1, w2, b2, 0.1)

    label = f"residual_block C={c} 1x{hw[0]}x{hw[1]}"
    return Workload("residual_block", label, dtype, True, make)


def _upsampler(c: int, r: int, hw: tuple[int, int], dtype: str) -> Workload:
    torch_dtype = getattr(torch, dtype)

    def make(device: torch.device) -> Callable[[], Any]:
        x = _image((1, c, *hw), torch_dtype, device, True)
        w, b = _conv_weights(c * r * r, c, 3, torch_dtype, device)
        return lambda: ops.conv_pixel_shuffle(x, w, b, r)

    label = f"conv_pixel_shuffle C={c} r={r} 1x{hw[0]}x{hw[1]}"
    return Workload("conv_pixel_shuffle", label, dtype, True, make)


def _conv_layer(c_in: int, c_out: int, k: int, hw: tuple[int, int], dtype: str) -> Workload:
    torch_dtype = getattr(torch, dtype)

    def make(device: torch.device) -> Callable[[], Any]:
        x = _image((1, c_in, *hw), torch_dtype, device, True)
        w, b = _conv_weights(c_out, c_in, k, torch_dtype, device)
        return lambda: ops.conv2d_act(x, w, b, "zeros", "relu")

    label = f"conv2d_act {c_in}->{c_out} {k}x{k} 1x{hw[0]}x{hw[1]}"
    return Workload("conv2d_act", label, dtype, True, make)


def _pixel_shuffle(op: str, shape: tuple[int, ...], dtype: str, nhwc: bool) -> Workload:
    """pixel_shuffle or pixel_unshuffle (r = 2) of an input of `shape`."""
    function = getattr(ops, op)

    def make(device: torch.device) -> Callable[[], Any]:
        x = _image(shape, getattr(torch, dtype), device, nhwc)
        return lambda: function(x, 2)

    label = f"{op} r=2 {'x'.join(map(str, shape))} {_layout_name(nhwc)}"
    return Workload(op, label, dtype, nhwc, make)


def _metric(op: str, shape: tuple[int, ...], dtype: str, nhwc: bool, y_channel: bool) -> Workload:
    function = getattr(ops, op)

    def make(device: torch.device) -> Callable[[], Any]:
        sr = _image(shape, getattr(torch, dtype), device, nhwc)
        hr = (
            _image(shape, getattr(torch, dtype), device, nhwc)
            .flip(-1)
            .contiguous(memory_format=torch.channels_last if nhwc else torch.contiguous_format)
        )
        data_range = None if dtype == "uint8" else 1.0
        return lambda: function(sr, hr, data_range=data_range, crop_border=4, y_channel=y_channel)

    what = "Y" if y_channel else "RGB"
    label = f"{op} {what} {'x'.join(map(str, shape))} {_layout_name(nhwc)}"
    return Workload(op, label, dtype, nhwc, make)


def _imresize(shape: tuple[int, ...], dtype: str, nhwc: bool, factor: int, down: bool) -> Workload:
    """imresize of an image of `shape` by 1/factor (`down`) or by factor: downscaling and
    upscaling are separate cases of the registry."""

    def make(device: torch.device) -> Callable[[], Any]:
        x = _image(shape, getattr(torch, dtype), device, nhwc)
        return lambda: ops.imresize(x, scale=1 / factor if down else factor)

    what = f"x1/{factor}" if down else f"x{factor}"
    label = f"imresize {what} {'x'.join(map(str, shape))} {_layout_name(nhwc)}"
    return Workload("imresize", label, dtype, nhwc, make)


def default_workloads(
    device: str,
    ops_wanted: Iterable[str] = TUNABLE_OPS,
    channels: Sequence[int] = DEFAULT_CHANNELS,
    dtypes: Iterable[str] | None = None,
) -> list[Workload]:
    """The workloads, most important first (the convolutions of EDSR at the issue's sizes)."""
    wanted = set(ops_wanted)
    unknown = wanted - set(TUNABLE_OPS)
    if unknown:
        raise ValueError(f"ops must be among {TUNABLE_OPS}, got {sorted(unknown)}")
    keep = None if dtypes is None else set(dtypes)
    gpu = device == "cuda"
    hw = (270, 480) if gpu else (24, 32)  # x4 SR to 1080p on a GPU
    batch, image = (4, (1080, 1920)) if gpu else (2, (128, 160))
    out: list[Workload] = []
    # Half precision first (the targets; a time-limited run keeps what it measured),
    # the EDSR block and upsampler before the head and tail, fp32 last.
    for precision in (CONV_DTYPES[:2], CONV_DTYPES[2:]):  # (bf16, fp16), then (fp32,)
        for dtype in precision:
            for c in channels:
                out.append(_residual_block(c, hw, dtype))
                out += [_upsampler(c, r, hw, dtype) for r in (2, 3)]
        for dtype in precision:
            for c in channels:
                out.append(_conv_layer(3, c, 3, hw, dtype))  # EDSR head
                out.append(_conv_layer(c, 3, 3, (hw[0] * 2, hw[1] * 2), dtype))  # tail (x2)
    for dtype in CONV_DTYPES:  # SRCNN 9-5-5 on a 512 x 512 luma image
        for c_in, c_out, k in ((1, 64, 9), (64, 32, 5), (32, 1, 5)):
            out.append(_conv_layer(c_in, c_out, k, (512, 512) if gpu else (32, 32), dtype))
    for nhwc in (True, False):
        for dtype in ("uint8", "bfloat16", "float16", "float32"):
            c = 256 if gpu else 64  # unshuffle: the shuffle's output, back
            out.append(_pixel_shuffle("pixel_shuffle", (1, c, *hw), dtype, nhwc))
            out.append(
                _pixel_shuffle("pixel_unshuffle", (1, c // 4, hw[0] * 2, hw[1] * 2), dtype, nhwc)
            )
        for dtype in ("uint8", "float32"):
            for op in ("psnr_mse", "ssim_mean"):
                for y_channel in (True, False):
                    out.append(_metric(op, (batch, 3, *image), dtype, nhwc, y_channel))
            out.append(_imresize((batch, 3, *image), dtype, nhwc, 4, down=True))
            low = (batch, 3, image[0] // 4, image[1] // 4)
            out.append(_imresize(low, dtype, nhwc, 4, down=False))  # and back up
    if gpu:
        out = [variant for w in out for variant in _per_cudnn_setting(w)]
    # Ops with one backend on this device have nothing to choose (the convolutions on a CPU).
    choosable = {op for op in wanted if len(_registry.candidate_backends(op, device)) > 1}
    return [w for w in out if w.op in choosable and (keep is None or w.dtype in keep)]


def _per_cudnn_setting(workload: Workload) -> list[Workload]:
    """A convolution workload as two cases, cuDNN's autotuner off and on; others as they are."""
    if workload.op not in CUDNN_OPS:
        return [workload]
    on = dataclasses.replace(
        workload, label=f"{workload.label} cudnn.benchmark", cudnn_benchmark=True
    )
    return [dataclasses.replace(workload, cudnn_benchmark=False), on]


@contextlib.contextmanager
def _cudnn_benchmark(setting: bool | None) -> Iterator[None]:
    """``torch.backends.cudnn.benchmark = setting`` inside the block (None: left as it is)."""
    saved = torch.backends.cudnn.benchmark
    if setting is not None:
        torch.backends.cudnn.benchmark = setting
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = saved


# ---------------------------------------------------------------------------------------------
# Timing.


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved_medians(
    calls: dict[str, Callable[[], Any]], device: torch.device, min_time_s: float, rounds: int
) -> dict[str, float]:
    """Median seconds per call of each function: each round runs every function for about
    `min_time_s` (after one warm-up call: compilation, allocation), so drift during the run
    reaches every backend alike. One more round runs first and is not counted. Why: on the H200
    (2026-11-29) the run's first case, the bf16 residual block at C = 64, timed cuDNN 1.6x and
    Triton 2.2x slower than the benchmarks did minutes later (so the table ranks Triton last
    where the benchmarks rank it first). The cause was not found; a cold start (clocks, caches,
    allocator) is the usual suspect, and a discarded round is the usual remedy."""
    per_round: dict[str, int] = {}
    for name, call in calls.items():
        call()
        _synchronize(device)
        start = time.perf_counter()
        call()
        _synchronize(device)
        once = max(time.perf_counter() - start, 1e-7)
        per_round[name] = max(1, min(_MAX_CALLS_PER_ROUND, math.ceil(min_time_s / once)))
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for round_index in range(rounds + 1):
        for name, call in calls.items():
            _synchronize(device)
            start = time.perf_counter()
            for _ in range(per_round[name]):
                call()
            _synchronize(device)
            if round_index > 0:  # round 0 warms up
                samples[name].append((time.perf_counter() - start) / per_round[name])
    return {name: statistics.median(values) for name, values in samples.items()}


def _forced(call: Callable[[], Any], backend: str) -> Callable[[], Any]:
    def run() -> Any:
        with _registry.use_backend(backend):
            return call()

    return run


def measure(
    workload: Workload, device: torch.device, min_time_s: float = 0.01, rounds: int = 5
) -> Measurement:
    """Time every backend that can serve `workload` on `device` (none is timed when fewer than
    two can: there is nothing to choose), under the workload's cuDNN autotuner setting."""
    with _cudnn_benchmark(workload.cudnn_benchmark):
        return _measure(workload, device, min_time_s, rounds)


def _measure(
    workload: Workload, device: torch.device, min_time_s: float, rounds: int
) -> Measurement:
    result = Measurement(workload)
    call = workload.make(device)
    _registry.forget_choices()  # so that the choices below are this workload's
    candidates = {}
    for backend in _registry.candidate_backends(workload.op, device.type):
        forced = _forced(call, backend)
        try:
            forced()
        except _registry.BackendUnavailableError as error:  # its capability check refused
            result.unavailable[backend] = str(error)
            continue
        except Exception as error:  # a kernel that fails is reported, not timed, not fatal
            result.unavailable[backend] = f"failed: {type(error).__name__}: {error}"
        else:
            candidates[backend] = forced
        result.accepted.append(backend)
    # The metadata the op dispatched with (the same for every forced backend).
    metas = [meta for op, meta, _, _ in _registry.choices() if op == workload.op]
    if not metas:
        raise RuntimeError(f"{workload.label}: no backend accepted the inputs of {workload.op}")
    result.case = _backend_timings.case_of(workload.op, metas[0])
    if len(candidates) >= 2:
        result.seconds = interleaved_medians(candidates, device, min_time_s, rounds)
    _registry.forget_choices()
    return result


# ---------------------------------------------------------------------------------------------
# The table file.


def table_problem(path: Path) -> str | None:
    """Why `path` cannot take our table (a file that is something else is never replaced);
    checked before any measurement, so that a long run does not end in a write error."""
    if path.is_dir():
        return f"{path} is a folder; --out names the table file"
    if path.exists():
        try:
            _backend_timings.read_table(path)
        except ValueError as error:
            return f"{error}; it is not replaced: choose another --out"
    folder = path.resolve().parent
    problem = folder_problem(folder)  # mkdir's "File exists" said too little
    if problem:
        return f"--out {path}: {problem}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as error:
        return f"--out {path}: cannot write in {folder} ({error.strerror or error})"
    return None


def merge_into_table(path: Path, records: Sequence[dict[str, Any]]) -> None:
    """Add `records` to the table at `path` (created if absent); records of the same case
    replace the old ones. Written to a temporary file and renamed, so a reader never sees half
    a table."""
    existing = _backend_timings.read_table(path) if path.exists() else []
    new = [_backend_timings.entry_from_json(record, str(path)) for record in records]
    merged = {entry.case: entry.record for entry in [*existing, *new]}  # later cases win
    path = path.resolve()  # a symlink's target is updated, the link kept
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = list(merged.values())
    text = json.dumps({"format": _backend_timings.FORMAT, "entries": entries}, indent=1)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as tmp:
        try:
            tmp.write(text + "\n")
            tmp.flush()
            os.chmod(tmp.name, mode)  # NamedTemporaryFile makes it 0600
        except BaseException:
            os.unlink(tmp.name)
            raise
    os.replace(tmp.name, path)


def merge_tables(sources: Sequence[Path], out: Path) -> int:
    """Merge timings tables into `out` (later sources replace earlier cases); the number of
    records merged. Every source is read before `out` is checked (table_problem creates its
    folder), so a bad source leaves nothing behind."""
    records = [entry.record for source in sources for entry in _backend_timings.read_table(source)]
    problem = table_problem(out)
    if problem:
        raise ValueError(problem)
    merge_into_table(out, records)
    _registry.reload_backend_timings()
    return len(records)


def record_of(measurement: Measurement, device: torch.device) -> dict[str, Any]:
    assert measurement.case is not None
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return _backend_timings.entry_to_json(
        measurement.case,
        measurement.seconds,
        workload=measurement.workload.label,
        device_name=name,
        unavailable=measurement.unavailable,
        fixed_order_choice=measurement.fixed_choice,
        measured=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        torch=torch.__version__,
    )


def summary_table(measurements: Sequence[Measurement]) -> str:
    """Markdown: each case, every backend's time, the automatic choice with the measurement
    and the fixed order's."""
    lines = [
        "| workload | dtype | backends (median) | choice | fixed order's choice |",
        "|---|---|---|---|---|",
    ]
    for m in measurements:
        if not m.seconds:
            reason = "; ".join(f"{b}: {r}" for b, r in m.unavailable.items()) or "one backend"
            lines.append(f"| {m.workload.label} | {m.workload.dtype} | not timed ({reason}) | | |")
            continue
        choice = m.choice
        assert choice is not None
        times = ", ".join(
            f"{b} {s * 1e3:.3f} ms" for b, s in sorted(m.seconds.items(), key=lambda i: i[1])
        )
        fixed = m.fixed_choice or "-"
        if fixed in m.seconds and fixed != choice:
            fixed += f" ({m.seconds[fixed] / m.seconds[choice]:.2f}x the choice's time)"
        lines.append(f"| {m.workload.label} | {m.workload.dtype} | {times} | {choice} | {fixed} |")
    return "\n".join(lines)


def tune(
    workloads: Sequence[Workload],
    device: torch.device,
    out: Path,
    min_time_s: float = 0.01,
    rounds: int = 5,
    progress: bool = True,
) -> list[Measurement]:
    """Measure each workload and merge every timed one into the table at `out`."""
    problem = table_problem(out)
    if problem:
        raise ValueError(problem)
    measurements = []
    bar = tqdm(workloads, desc="tune", unit="case", disable=not progress)
    try:
        for workload in bar:
            bar.set_postfix_str(f"{workload.label} {workload.dtype}", refresh=True)
            measurement = measure(workload, device, min_time_s, rounds)
            measurements.append(measurement)
            if measurement.seconds:
                merge_into_table(out, [record_of(measurement, device)])
    except KeyboardInterrupt:  # keep what was measured (the table has it already)
        bar.close()
        print(f"interrupted after {len(measurements)} of {len(workloads)} cases")
    _registry.reload_backend_timings()
    return measurements
