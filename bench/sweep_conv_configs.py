"""Sweep the tile configs of the Triton conv kernels: the fastest correct config per case.

The configs in sr_kernels/ops/triton/_conv_configs.py were chosen on paper; GPU time is rare, so
one call measures a grid of candidates around each table config and reports the winners, to be
put into the table by hand:

    python bench/sweep_conv_configs.py --out sweep.json          # every case, bf16, 240 s
    python bench/sweep_conv_configs.py --ops residual_block --channels 64 --dtypes float16
    python bench/sweep_conv_configs.py --quick                   # tiny shapes, 2 configs a case

Cases: residual_block at C = 64 and 256, conv_pixel_shuffle C -> C*r*r (r = 2) at C = 64, each
on the x4 body input (1 x C x 270 x 480) and the EDSR training batch (16 x C x 48 x 48), NHWC;
bf16 by default (the tables give fp16 the same configs as bf16).
Each candidate runs under `_conv_configs.override_configs` on random inputs, and its output is
checked against the float64 reference with STYLE.md's rule (relative error at most
max(2 x that of the reference op run in the same dtype, the dtype's floor)) before it is timed
and once more after; a candidate that raises (compile error, out of shared memory) or is wrong is
recorded so and never becomes the best. Timing: triton.testing.do_bench, median, L2 flushed
(`_harness.gpu_median_seconds`), for every correct candidate, the table config and cuDNN eager
(channels_last, cudnn.benchmark). Registers and spills come from Triton's compiled kernels.

The budget (--budget-s, wall time from the start of the sweep) is split evenly over the (op, C,
dtype) families still to run, so a slow family cannot starve the others; configs not started in
time are recorded as "not run". The JSON (--out) holds every row and is rewritten after each
family and when the sweep stops (budget, Ctrl-C / SIGINT), so a cut-off run keeps what it
measured. stdout gets a markdown table: per case the table config's time, the best config, its
time, its speed-up over the table config and over cuDNN, for the residual block the rate at
which the table's and the best config's tiles asked L1/L2 for bytes (TB/s of
`ResBlockConfig.tile_traffic`: the kernel header's bound), and its registers and spills (a
config that spills is never the best: the table's static check wants 0 spills; the grids leave
out tiles needing more than 64 accumulator registers per thread, which spilled when compiled).
bench/gpu_validate.sh runs this as its stage sweep-conv. Exit status: 0, or 1 when a table
config failed or the CUDA context was lost, 2 for a usage error.

Without CUDA it runs under the Triton interpreter (TRITON_INTERPRET=1, set here when unset),
--quick only, timed with time.perf_counter: a check of the tool, not a measurement.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

if not torch.cuda.is_available():
    # Triton reads TRITON_INTERPRET when it is imported: decide before sr_kernels imports it.
    os.environ.setdefault("TRITON_INTERPRET", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness  # noqa: E402
import _roofline  # noqa: E402
import _workloads  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from sr_kernels import ops  # noqa: E402
from sr_kernels.ops import _registry  # noqa: E402
from sr_kernels.ops.reference import conv_pixel_shuffle as reference_upsampler  # noqa: E402
from sr_kernels.ops.reference import residual_block as reference_block  # noqa: E402
from sr_kernels.ops.triton import _conv_configs as configs  # noqa: E402
from sr_kernels.ops.triton import conv2d_act as triton_conv  # noqa: E402
from sr_kernels.ops.triton import residual_block as triton_block  # noqa: E402
from sr_kernels.ops.triton._launch import cdiv  # noqa: E402
from sr_kernels.tools import tolerances  # noqa: E402
from sr_kernels.tools.tolerances import relative_error  # noqa: E402

RES_SCALE = 0.1  # as bench_resblock.py
R = 2
DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
SHAPES = (_workloads.CONV_X4_270X480, _workloads.CONV_EDSR_PATCH_B16_48X48)  # at C = 64
QUICK_SHAPE = _workloads.ConvWorkload(
    name="tiny_5x7", devices=_workloads.CPU_AND_GPU, note="a check of the tool",
    n=1, c_in=16, c_out=16, h=5, w=7,
)  # fmt: skip
QUICK_CHANNELS = (16,)
CPU_REPEATS = 3
# Fields that change how a config is launched, not which tiles it computes.
LAUNCH_FIELDS = ("num_warps", "num_stages", "programs_per_sm")
LAUNCH_SETTINGS = [(warps, stages) for warps in (4, 8) for stages in (1, 2, 3)]

Config = Any  # configs.ResBlockConfig or configs.ConvConfig
STATUSES = ("ok", "wrong", "error", "not run")


# ---------------------------------------------------------------------------------------------
# Candidate grids: the table config first, then variations of it (about 25-30; duplicates and
# configs the kernel cannot run dropped).


def _power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


def _unique(grid: list[Config]) -> list[Config]:
    return list(dict.fromkeys(grid))


# fp32 accumulator registers per thread of an M x N dot tile. A static pre-screen of this grid
# (Triton 3.6, sm_90, bf16, 2026-11-29) found 10 of the 11 candidates above 64 spilling (e.g. a
# 16 x 16 block tile or a 128 x 128 upsampler tile with 4 warps: 8-1400 stack bytes; the other
# used 253 registers), and a config that spills cannot enter the table (the static check wants
# 0 spills): not worth the compile time on a GPU. Below it, one candidate spilled (the upsampler
# with BLOCK_K 64 and 4 warps, 8 bytes): `summarize` never picks a spilling config.
MAX_ACCUMULATOR_REGISTERS = 64


def _accumulator_registers(m: int, n: int, num_warps: int) -> int:
    return m * n // (32 * num_warps)


def residual_block_grid(
    table: Config, channels: int, dtype: torch.dtype, arch: int
) -> list[Config]:
    """Around the table's block: launch settings, output tiles, channel blocks, halo chunks,
    programs per SM (the channel loops have no masks: BLOCK_N and BLOCK_K divide C)."""
    fp32 = dtype == torch.float32
    # Candidates change one thing of the table's config, chunks_per_step off (on, a tile of
    # more than 3 halo chunks would be refused).
    base = dataclasses.replace(table, chunks_per_step=False)

    def replace(config: Config, **changes: Any) -> Config:
        return dataclasses.replace(base if config is table else config, **changes)

    block_ns = [n for n in ((16, 32) if fp32 else (32, 64, 128)) if channels % n == 0]
    block_ks = [k for k in ((16, 32) if fp32 else (32, 64)) if channels % k == 0]
    grid = [table]
    # First, as a short budget reaches only the first candidates, the two that the header's
    # traffic model favours, where they compiled with 0 spills (static, fp16/bf16, sm_90):
    # every halo chunk in each conv1 step (the weights load once per tile: 574 instead of 721 KB
    # per tile at C = 64), with one stage (with two the three chunks' accumulators, 96 registers
    # a thread, spilled 72-80 bytes; with one, 255 registers with Triton 3.6, 244 with 3.8);
    if arch >= 90 and not fp32 and table.halo_chunks <= 3 and not table.chunks_per_step:
        grid.append(replace(table, chunks_per_step=True, num_stages=1))
    # and, for C a multiple of 128, 128-wide conv1 blocks, which read the halo's A rows half as
    # often (C = 256: -16 % of a tile's bytes; conv2 keeps 64, as 128 x 128 accumulators
    # spilled; Triton 3.6: 168 and 238 registers with one and two stages).
    if arch >= 90 and not fp32 and channels % 128 == 0 and table.block_n1 < 128:
        grid.append(replace(table, block_n1=128))
    launches = [replace(table, num_warps=w, num_stages=s) for w, s in LAUNCH_SETTINGS]
    grid += [c for c in launches if c.num_warps == 4]
    # Pipelined (num_stages > 1: operands of the next (tap, K block) steps in flight) with other
    # halo chunks, reduction blocks and programs per SM: early in the grid, as a short budget
    # reaches only the first candidates. (Static, bf16 C = 64, Triton 3.6 and 3.8: on sm_90
    # 214-255 registers and 0 spills; on sm_80 the s = 3 ones spill 24-72 bytes: a winner among
    # them can enter the table for sm_90 only.)
    for stages in (2, 3):
        grid.append(replace(table, block_m1=128, num_stages=stages))
        grid += [replace(table, num_stages=stages, programs_per_sm=p) for p in (1, 3)]
    grid.append(replace(table, block_k=32, num_stages=3))
    grid += [c for c in launches if c.num_warps != 4]  # 8 warps: see _conv_configs' warning
    for tile_h, tile_w in ((16, 16), (8, 32), (8, 8), (16, 8)):
        for warps in (4, 8):
            grid.append(replace(table, tile_h=tile_h, tile_w=tile_w, num_warps=warps))
    for n in block_ns:
        for k in block_ks:
            for warps in (4, 8):
                grid.append(replace(table, block_n1=n, block_n2=n, block_k=k, num_warps=warps))
    grid += [replace(table, block_m1=m) for m in (64, 128, 256)]
    grid += [replace(table, programs_per_sm=p) for p in (1, 3, 4)]

    def runs(c: Config) -> bool:
        # The register rule is per dot tile; chunks_per_step's three conv1 accumulators were
        # checked statically (above) instead.
        blocks = (c.tile_h * c.tile_w, c.block_m1, c.block_n1, c.block_n2, c.block_k)
        divides = all(channels % b == 0 for b in (c.block_n1, c.block_n2, c.block_k))
        accumulators = max(
            _accumulator_registers(c.block_m1, c.block_n1, c.num_warps),
            _accumulator_registers(c.tile_h * c.tile_w, c.block_n2, c.num_warps),
        )
        fits = accumulators <= MAX_ACCUMULATOR_REGISTERS
        return divides and fits and all(_power_of_two(b) and b >= 16 for b in blocks)

    return [table] + [c for c in _unique(grid) if c != table and runs(c)]


def conv_grid(table: Config, c_in: int, c_out: int) -> list[Config]:
    """Around the table's tiles: launch settings, pixel x channel tiles, reduction blocks.
    FLAT_K and ALIGNED stay the table's (they follow from the shapes, not from tuning)."""
    replace = dataclasses.replace
    grid = [table]
    grid += [replace(table, num_warps=w, num_stages=s) for w, s in LAUNCH_SETTINGS]
    for m, n in ((32, 64), (64, 64), (128, 128), (256, 64), (64, 128), (256, 128), (128, 256)):
        for warps in (4, 8):
            grid.append(replace(table, block_m=m, block_n=n, num_warps=warps))
    for k in (16, 32, 64):
        for warps in (4, 8):
            grid.append(replace(table, block_k=k, num_warps=warps))
    for m, n in ((128, 128), (256, 64)):
        for stages in (2, 3):
            grid.append(replace(table, block_m=m, block_n=n, num_warps=8, num_stages=stages))

    def runs(c: Config) -> bool:
        divides = c_out % c.block_n == 0 and c_in % c.block_k == 0
        accumulators = _accumulator_registers(c.block_m, c.block_n, c.num_warps)
        fits = accumulators <= MAX_ACCUMULATOR_REGISTERS
        powers = all(_power_of_two(b) and b >= 16 for b in (c.block_m, c.block_n))
        return divides and fits and powers

    return [table] + [c for c in _unique(grid) if c != table and runs(c)]


def quick_pick(grid: list[Config]) -> list[Config]:
    """The table config and the first candidate with other tiles (the interpreter ignores
    warps and stages: a tile change is what exercises different index logic)."""

    def tiles(c: Config) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(c).items() if k not in LAUNCH_FIELDS}

    table = grid[0]
    other = next((c for c in grid[1:] if tiles(c) != tiles(table)), None)
    return [table] if other is None else [table, other]


def label(config: Config) -> str:
    """Short name: 8x16 m64 n64/64 k64 w4 s1 p2 (block) or m128 n64 k32 w4 s1 (conv)."""
    if isinstance(config, configs.ResBlockConfig):
        return (
            f"{config.tile_h}x{config.tile_w} m{config.block_m1} "
            f"n{config.block_n1}/{config.block_n2} k{config.block_k} "
            f"w{config.num_warps} s{config.num_stages} p{config.programs_per_sm}"
            + (" chunks/step" if config.chunks_per_step else "")
        )
    flags = (" flat" if config.flat_k else "") + ("" if config.aligned else " unaligned")
    return (
        f"m{config.block_m} n{config.block_n} k{config.block_k} "
        f"w{config.num_warps} s{config.num_stages}{flags}"
    )


# ---------------------------------------------------------------------------------------------
# The two ops: inputs, calls, references, costs, table configs.


def _bias(c: int, device: torch.device, seed: int) -> torch.Tensor:
    return _workloads.random_tensor((c,), torch.float32, "nchw", device, seed=seed) - 0.5


def _weight(
    shape: _workloads.ConvWorkload, c_out: int, dtype: torch.dtype, device: torch.device, seed: int
) -> torch.Tensor:
    # channels_last as models keep their GPU parameters (the launchers copy other layouts).
    w = dataclasses.replace(shape, c_out=c_out).make_weight(dtype, str(device), seed=seed)
    return w.contiguous(memory_format=torch.channels_last)


@dataclass(frozen=True)
class Op:
    name: str
    default_channels: tuple[int, ...]
    make_args: Callable[[_workloads.ConvWorkload, torch.dtype, torch.device], tuple]
    ours: Callable[..., torch.Tensor]  # the public op (the caller forces the triton backend)
    reference: Callable[..., torch.Tensor]
    eager: Callable[..., torch.Tensor]  # the cuDNN baseline, as in bench_<op>.py
    cost: Callable[[_workloads.ConvWorkload, torch.dtype], _roofline.Cost]
    table: Callable[[int, torch.dtype, int], Config]  # (C, dtype, arch)
    grid: Callable[[Config, int, torch.dtype, int], list[Config]]  # (table, C, dtype, arch)
    override: Callable[[Config], contextlib.AbstractContextManager[None]]
    kernels: Callable[[], list[Any]]  # the Triton JIT functions the op launches
    # Bytes a launch's loads and stores ask of L1/L2 (None: no model for this op).
    operand_bytes: (
        Callable[[_workloads.ConvWorkload, torch.dtype, Any, torch.device], int] | None
    ) = None


def _block_args(shape: _workloads.ConvWorkload, dtype: torch.dtype, device: torch.device) -> tuple:
    c = shape.c_in
    x = shape.make_input(dtype, "nhwc", str(device))
    w1, w2 = (_weight(shape, c, dtype, device, seed) for seed in (1, 2))
    b1, b2 = (_bias(c, device, seed).to(dtype) for seed in (3, 4))
    return x, w1, b1, w2, b2


def _block_operand_bytes(
    shape: _workloads.ConvWorkload, dtype: torch.dtype, config: Config, device: torch.device
) -> int:
    """What the Triton block's tiles ask of L1/L2 (`ResBlockConfig.tile_traffic`), redone tiles
    included: the kernel header's bound, to compare each candidate's rate with."""
    tiles = shape.n * cdiv(shape.h, config.tile_h) * cdiv(shape.w, config.tile_w)
    programs, steps = triton_block.grid(tiles, config, device)
    traffic = config.tile_traffic(shape.c_in, dtype)
    return programs * steps * (traffic.load_bytes + traffic.store_bytes)


def _block_eager(x, w1, b1, w2, b2):  # noqa: ANN001, ANN202
    y = F.relu(F.conv2d(x, w1, b1, padding=1), inplace=True)  # as bench_resblock's eager
    return x + F.conv2d(y, w2, b2, padding=1) * RES_SCALE


def _upsampler_args(
    shape: _workloads.ConvWorkload, dtype: torch.dtype, device: torch.device
) -> tuple:
    c = shape.c_in
    x = shape.make_input(dtype, "nhwc", str(device))
    return x, _weight(shape, c * R * R, dtype, device, 1), _bias(c * R * R, device, 2).to(dtype)


OPS = {
    "residual_block": Op(
        name="residual_block",
        default_channels=(64, 256),
        make_args=_block_args,
        ours=lambda x, w1, b1, w2, b2: ops.residual_block(x, w1, b1, w2, b2, RES_SCALE),
        reference=lambda x, w1, b1, w2, b2: reference_block.residual_block(
            x, w1, b1, w2, b2, RES_SCALE
        ),
        eager=_block_eager,
        cost=lambda s, dtype: _roofline.resblock_fused_cost(s.n, s.c_in, s.h, s.w, dtype),
        table=lambda c, dtype, arch: configs.residual_block_config(c, dtype, arch),
        grid=residual_block_grid,
        override=lambda config: configs.override_configs(residual_block=config),
        kernels=lambda: [triton_block._residual_block_kernel],
        operand_bytes=_block_operand_bytes,
    ),
    "conv_pixel_shuffle": Op(
        name="conv_pixel_shuffle",
        default_channels=(64,),
        make_args=_upsampler_args,
        ours=lambda x, w, b: ops.conv_pixel_shuffle(x, w, b, R),
        reference=lambda x, w, b: reference_upsampler.conv_pixel_shuffle(x, w, b, R),
        eager=lambda x, w, b: F.pixel_shuffle(F.conv2d(x, w, b, padding=1), R),
        cost=lambda s, dtype: _roofline.conv2d_cost(s.n, s.c_in, s.c_in * R * R, s.h, s.w, dtype),
        table=lambda c, dtype, arch: configs.conv_config(c, c * R * R, c, 3, dtype, arch),
        grid=lambda table, c, dtype, arch: conv_grid(table, c, c * R * R),
        override=lambda config: configs.override_configs(conv=config),
        kernels=lambda: list(triton_conv.KERNELS.values()),
    ),
}


# ---------------------------------------------------------------------------------------------
# Rows and the plan


@dataclass
class Row:
    """One (case, implementation) measurement; `status` stays "not run" until it ran."""

    op: str
    workload: str
    shape: list[int]  # input N, C, H, W
    dtype: str
    role: str  # "cudnn" (eager baseline), "table" (the table's config) or "candidate"
    label: str
    config: dict[str, Any] | None = None
    status: str = "not run"  # one of STATUSES
    error: str = ""
    rel_error: float | None = None  # ||out - ref64|| / ||ref64|| (the larger of both checks)
    bound: float | None = None  # the largest correct relative error (STYLE.md section 8)
    time_s: float | None = None  # median per call
    tflops: float | None = None
    operand_tbps: float | None = None  # Op.operand_bytes / time_s, TB/s (residual block only)
    n_regs: int | None = None
    n_spills: int | None = None
    seconds: float | None = None  # wall time spent on the row (compile, checks, timing)

    @property
    def case(self) -> tuple[str, str, str]:
        return self.op, self.workload, self.dtype


@dataclass
class Family:
    """The cases that share compiled kernels: one op, C and dtype, several input shapes."""

    op: Op
    channels: int
    dtype: torch.dtype
    shapes: list[_workloads.ConvWorkload]
    configs: list[Config]
    baseline_rows: list[Row]
    rows: dict[Config, list[Row]]  # per config (table first), one row per shape


def _shape(base: _workloads.ConvWorkload, channels: int) -> _workloads.ConvWorkload:
    if base.c_in == channels:
        return base
    name = f"{base.name}_c{channels}"
    return dataclasses.replace(base, name=name, c_in=channels, c_out=channels)


def plan(
    op_names: Sequence[str],
    channels: Sequence[int] | None,
    dtypes: Sequence[torch.dtype],
    quick: bool,
    arch: int,
) -> list[Family]:
    """Every family to sweep, in running order (dtype, then C, then op), rows not run yet."""
    families = []
    for dtype in dtypes:
        all_channels = channels or sorted({c for n in op_names for c in OPS[n].default_channels})
        for c in all_channels:
            for name in op_names:
                op = OPS[name]
                if channels is None and c not in op.default_channels:
                    continue
                shapes = [_shape(s, c) for s in ((QUICK_SHAPE,) if quick else SHAPES)]
                table = op.table(c, dtype, arch)
                grid = op.grid(table, c, dtype, arch)
                chosen = quick_pick(grid) if quick else grid
                families.append(_family(op, c, dtype, shapes, chosen))
    return families


def _family(op: Op, c: int, dtype: torch.dtype, shapes: list, chosen: list[Config]) -> Family:
    def row(shape: _workloads.ConvWorkload, role: str, config: Config | None) -> Row:
        return Row(
            op=op.name,
            workload=shape.name,
            shape=list(shape.input_shape),
            dtype=_workloads.dtype_name(dtype),
            role=role,
            label="eager" if config is None else label(config),
            config=None if config is None else dataclasses.asdict(config),
        )

    rows = {
        config: [row(s, "table" if i == 0 else "candidate", config) for s in shapes]
        for i, config in enumerate(chosen)
    }
    return Family(op, c, dtype, shapes, chosen, [row(s, "cudnn", None) for s in shapes], rows)


# ---------------------------------------------------------------------------------------------
# Checking and timing


@dataclass
class Prepared:
    """One shape's inputs and what a correct output must be close to."""

    args: tuple
    ref64: torch.Tensor
    bound: float


def prepare(
    op: Op, shape: _workloads.ConvWorkload, dtype: torch.dtype, device: torch.device
) -> Prepared:
    args = op.make_args(shape, dtype, device)
    ref64 = op.reference(*(a.double().contiguous() for a in args))
    same_dtype = op.reference(*args)
    bound = tolerances.bound(dtype, relative_error(same_dtype, ref64))
    return Prepared(args, ref64, bound)


def median_seconds(fn: Callable[[], Any], device: torch.device) -> float:
    if device.type == "cuda":
        return _harness.gpu_median_seconds(fn)
    times = []
    for _ in range(CPU_REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(error).__name__}: {first}"[:300]


class CudaContextLost(RuntimeError):
    """A launch broke the CUDA context (e.g. an illegal address): nothing after it can run."""


def _check_context(device: torch.device) -> None:
    if device.type != "cuda":
        return
    try:
        torch.cuda.synchronize()
    except RuntimeError as error:
        raise CudaContextLost(_short(error)) from error


def compiled_kernels(kernels: Sequence[Any]) -> dict[int, Any]:
    """Every compiled kernel of the JIT functions `kernels` so far, by id. Triton keeps them in
    ``device_caches[device][0]`` (internal, so read defensively); none under the interpreter."""
    found: dict[int, Any] = {}
    for kernel in kernels:
        for cache in list(getattr(kernel, "device_caches", {}).values()):
            try:
                entries = list(cache[0].values())
            except (TypeError, IndexError, KeyError, AttributeError):
                continue
            found.update((id(entry), entry) for entry in entries)
    return found


def _resources(new: Sequence[Any]) -> tuple[int | None, int | None]:
    """The most registers and spills among newly compiled kernels (None: not reachable)."""
    regs = [r for r in (getattr(k, "n_regs", None) for k in new) if isinstance(r, int)]
    spills = [s for s in (getattr(k, "n_spills", None) for k in new) if isinstance(s, int)]
    return (max(regs) if regs else None), (max(spills) if spills else None)


def measure(
    row: Row,
    call: Callable[[], torch.Tensor],
    case: Prepared,
    device: torch.device,
    cost: _roofline.Cost,
    check: bool = True,
) -> None:
    """Run `call`; when its output is correct (or `check` is off), time it. Fills `row`."""
    start = time.monotonic()
    try:
        with torch.no_grad():
            error = relative_error(call(), case.ref64)
            row.rel_error = error
            if check and not error <= case.bound:
                row.status = "wrong"
                return
            seconds = median_seconds(call, device)
            if check:  # once more: a race or a stale buffer need not show on the first call
                error = max(error, relative_error(call(), case.ref64))
                row.rel_error = error
                if not error <= case.bound:
                    row.status = "wrong"
                    return
        row.status = "ok"
        row.time_s = seconds
        row.tflops = cost.flops / seconds / 1e12 if cost.flops and seconds > 0 else None
    except Exception as failure:  # a candidate may fail to compile or to launch: recorded
        row.status, row.error = "error", _short(failure)
        _check_context(device)
    finally:
        row.bound = case.bound if check else None
        row.seconds = time.monotonic() - start


# ---------------------------------------------------------------------------------------------
# The sweep


@dataclass
class Sweep:
    device: torch.device
    families: list[Family]
    budget_s: float
    out: Path | None
    started: float = dataclasses.field(default_factory=time.monotonic)
    stopped: str = ""  # why the sweep ended early ("" when it ran every config)
    # Registers and spills per (op, dtype, config): one compile serves every shape and every C
    # (the kernels specialise C and the strides on divisibility by 16 only).
    resources: dict[tuple, tuple[int | None, int | None]] = dataclasses.field(default_factory=dict)

    @property
    def rows(self) -> list[Row]:
        rows = []
        for family in self.families:
            rows += family.baseline_rows
            for config_rows in family.rows.values():
                rows += config_rows
        return rows

    def run(self) -> None:
        deadline = self.started + self.budget_s
        try:
            for index, family in enumerate(self.families):
                if time.monotonic() >= deadline:
                    self.stopped = f"budget of {self.budget_s:g} s used up"
                    break
                # An even share of what is left: time a family leaves passes to the next ones.
                share_end = time.monotonic() + (deadline - time.monotonic()) / (
                    len(self.families) - index
                )
                self.run_family(family, share_end)
                self.write()
        except KeyboardInterrupt:
            self.stopped = "interrupted (SIGINT)"
        except CudaContextLost as error:
            self.stopped = f"CUDA context lost: {error}"
        finally:
            self.write()

    def run_family(self, family: Family, share_end: float) -> None:
        op, dtype = family.op, family.dtype
        cases = [prepare(op, shape, dtype, self.device) for shape in family.shapes]
        costs = [op.cost(shape, dtype) for shape in family.shapes]
        for row, case, cost in zip(family.baseline_rows, cases, costs):
            measure(row, functools.partial(op.eager, *case.args), case, self.device, cost, False)
            self.progress(row)
        slowest = 0.0
        for index, config in enumerate(family.configs):
            started = time.monotonic()
            # The table config always runs; a candidate only if the slowest so far still fits.
            if index > 0 and started + slowest > share_end:
                break
            self.run_config(family, config, cases, costs)
            slowest = max(slowest, time.monotonic() - started)

    def run_config(
        self, family: Family, config: Config, cases: list[Prepared], costs: list
    ) -> None:
        op = family.op
        key = (op.name, family.dtype, config)
        for row, case, cost, shape in zip(family.rows[config], cases, costs, family.shapes):
            before = compiled_kernels(op.kernels())
            with ops.use_backend("triton"), op.override(config):
                measure(row, functools.partial(op.ours, *case.args), case, self.device, cost)
            if row.status == "ok" and row.time_s and op.operand_bytes is not None:
                moved = op.operand_bytes(shape, family.dtype, config, self.device)
                row.operand_tbps = moved / row.time_s / 1e12
            new = [k for i, k in compiled_kernels(op.kernels()).items() if i not in before]
            if new and key not in self.resources:
                self.resources[key] = _resources(new)
            row.n_regs, row.n_spills = self.resources.get(key, (None, None))
            self.progress(row)

    def progress(self, row: Row) -> None:
        """One line per row as it is measured: the log keeps them if the sweep is killed."""
        if row.status == "ok":
            outcome = f"ok {_time(row.time_s)}"
        elif row.status == "wrong":
            outcome = f"WRONG: relative error {row.rel_error:.2e} > {row.bound:.2e}"
        else:
            outcome = f"{row.status} {row.error}"
        elapsed = time.monotonic() - self.started
        what = f"{row.op} {row.workload} {row.dtype} {row.role} {row.label}"
        print(f"[{elapsed:6.1f}s] {what}: {outcome}", flush=True)

    def payload(self) -> dict[str, Any]:
        return {
            "tool": "bench/sweep_conv_configs.py",
            "device": self.device.type,
            "timer": "triton.testing.do_bench median (CUDA events, L2 flushed)"
            if self.device.type == "cuda"
            else f"time.perf_counter median of {CPU_REPEATS} (Triton interpreter: not a speed)",
            "environment": _harness.environment(self.device.type),
            "tf32": _harness.tf32_state(),
            "arch_key": configs.arch_key(self.device),
            "budget_s": self.budget_s,
            "elapsed_s": time.monotonic() - self.started,
            "stopped": self.stopped,
            "summary": summarize(self.rows),
            "rows": [dataclasses.asdict(row) for row in self.rows],
        }

    def write(self) -> None:
        if self.out is None:
            return
        # Through a temporary file: a kill while writing leaves the previous complete JSON.
        partial = self.out.with_name(self.out.name + ".partial")
        partial.write_text(json.dumps(self.payload(), indent=1) + "\n")
        partial.replace(self.out)


# ---------------------------------------------------------------------------------------------
# Summary


def summarize(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Per case (op, workload, dtype): cuDNN, the table config, the best correct config that
    does not spill."""
    cases: dict[tuple[str, str, str], list[Row]] = {}
    for row in rows:
        cases.setdefault(row.case, []).append(row)
    summary = []
    for (op, workload, dtype), case_rows in cases.items():
        cudnn = next((r for r in case_rows if r.role == "cudnn"), None)
        table = next((r for r in case_rows if r.role == "table"), None)
        correct = [r for r in case_rows if r.role != "cudnn" and r.status == "ok"]
        # A config that spills cannot enter the table (the static check wants 0 spills).
        eligible = [r for r in correct if not r.n_spills]
        best = min(eligible, key=lambda r: r.time_s or float("inf"), default=None)
        configs_run = [r for r in case_rows if r.role != "cudnn"]
        counts = {s: sum(r.status == s for r in configs_run) for s in STATUSES}

        def ratio(baseline: Row | None, best: Row | None = best) -> float | None:
            if baseline is None or best is None or baseline.status != "ok" or not best.time_s:
                return None
            return (baseline.time_s or 0.0) / best.time_s

        summary.append(
            {
                "op": op,
                "workload": workload,
                "dtype": dtype,
                "cudnn_s": cudnn.time_s if cudnn else None,
                "table": table.label if table else None,
                "table_status": table.status if table else None,
                "table_s": table.time_s if table else None,
                "best": best.label if best else None,
                "best_config": best.config if best else None,
                "best_s": best.time_s if best else None,
                "best_regs": best.n_regs if best else None,
                "best_spills": best.n_spills if best else None,
                "table_operand_tbps": table.operand_tbps if table else None,
                "best_operand_tbps": best.operand_tbps if best else None,
                "speedup_vs_table": ratio(table),
                "speedup_vs_cudnn": ratio(cudnn),
                "counts": counts,
            }
        )
    return summary


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1e6:.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def _times(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}x"


def markdown(summary: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| case | cuDNN eager | table config | table | best config | best | vs table "
        "| vs cuDNN | regs / spills | L1/L2 TB/s table / best | ok / wrong / error / not run |",
        "|---|---:|---|---:|---|---:|---:|---:|---|---|---|",
    ]
    for s in summary:
        table_time = _time(s["table_s"]) if s["table_status"] == "ok" else s["table_status"]
        resources = " / ".join(
            "?" if n is None else str(n) for n in (s["best_regs"], s["best_spills"])
        )
        counts = " / ".join(str(n) for n in s["counts"].values())
        rates = " / ".join(
            "-" if s.get(key) is None else f"{s[key]:.2f}"
            for key in ("table_operand_tbps", "best_operand_tbps")
        )
        lines.append(
            f"| {s['op']} {s['workload']} {s['dtype']} | {_time(s['cudnn_s'])} | {s['table']} "
            f"| {table_time} | {s['best'] or '-'} | {_time(s['best_s'])} "
            f"| {_times(s['speedup_vs_table'])} | {_times(s['speedup_vs_cudnn'])} "
            f"| {resources} | {rates} | {counts} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Command line


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time a grid of Triton conv tile configs per case; report the fastest "
        "correct one (see the module docstring)."
    )
    parser.add_argument("--ops", nargs="+", choices=list(OPS), default=list(OPS))
    parser.add_argument(
        "--channels", nargs="+", type=int, default=None,
        help="C for every op (default: residual_block 64 256, conv_pixel_shuffle 64; quick: 16)",
    )  # fmt: skip
    parser.add_argument(
        "--dtypes", nargs="+", choices=list(DTYPES), default=None,
        help="default: bfloat16 on CUDA, float16 under the interpreter (it has no bfloat16)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="JSON with every row")
    parser.add_argument("--budget-s", type=float, default=240.0, help="wall-time budget")
    parser.add_argument(
        "--quick", action="store_true",
        help="tiny shapes (1 x 16 x 5 x 7), 2 configs per case: a check of the tool",
    )  # fmt: skip
    return parser.parse_args(argv)


@contextlib.contextmanager
def _cudnn_benchmark() -> Iterator[None]:
    """cuDNN's autotuner for the eager baselines (our kernels do not use cuDNN), restored after."""
    saved = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = saved


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    on_gpu = torch.cuda.is_available() and not _registry.triton_interpreting()
    if not on_gpu and not args.quick:
        print("no CUDA GPU (or TRITON_INTERPRET=1): only --quick runs here, under the interpreter")
        return 2
    device = torch.device("cuda" if on_gpu else "cpu")
    dtypes = [DTYPES[d] for d in (args.dtypes or (["bfloat16"] if on_gpu else ["float16"]))]
    channels = args.channels or (QUICK_CHANNELS if args.quick else None)
    if channels and any(c % 16 for c in channels):
        print(f"--channels: every C must be a multiple of 16, got {channels}")
        return 2
    families = plan(args.ops, channels, dtypes, args.quick, configs.arch_key(device))
    sweep = Sweep(device, families, args.budget_s, args.out)
    with _cudnn_benchmark():
        sweep.run()
    print(markdown(summarize(sweep.rows)))
    if sweep.stopped:
        print(f"\nstopped early: {sweep.stopped}")
    if args.out is not None:
        print(f"\nevery row: {args.out}")
    failed_tables = [r for r in sweep.rows if r.role == "table" and r.status in ("wrong", "error")]
    for row in failed_tables:
        what = f"{row.op} {row.workload} {row.dtype} {row.label}"
        print(f"TABLE CONFIG FAILED: {what}: {row.status} {row.error}")
    return 1 if failed_tables or sweep.stopped.startswith("CUDA") else 0


if __name__ == "__main__":
    sys.exit(main())
