"""Tile and launch configurations of the Triton convolution kernels: the ONE place they are chosen.

Every kernel launch of `residual_block`, `conv2d_act` and `conv_pixel_shuffle` takes its
configuration from a function here, keyed by (channels, dtype, architecture); `aot_configs()` of
each kernel module enumerates the finite set these functions can return, so the static
sm_80/sm_90 compile check covers every configuration that can be launched (`override_configs`
aside: a development tool, see below).

Architectures: the tables are written for sm_80 (A100) and sm_90 (H100); other GPUs use the
nearest lower entry (sm_86/sm_89 -> sm_80). Under the Triton interpreter the sm_90 entry is used,
so the CPU tests exercise the index logic of the same tiles the H100 runs.

All entries use at most 4 warps: the convolutions run their (tap, K block) steps as one loop,
and such loops have miscompiled with 8 warps (pytorch/pytorch#173068); raising that needs a GPU
test of the config first. The numbers are first choices made on paper (register budget
checked with cuobjdump: 0 spills); the lead tunes them per (C, dtype, arch) from GPU
measurements, here only. `override_configs` (a development tool for bench/sweep_conv_configs.py)
makes every launch in its block use a given config instead, to measure candidates for the tables.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from ._launch import cdiv

ARCHS = (80, 90)
DTYPES = (torch.float32, torch.float16, torch.bfloat16)
TF32_ENV = "SR_KERNELS_ALLOW_TF32"


@dataclass(frozen=True)
class ResBlockConfig:
    """Fused residual block: one program computes TILE_H x TILE_W output pixels x all C channels.

    conv1 runs over the (TILE_H+2) x (TILE_W+2) halo in chunks of BLOCK_M1 pixels (halo rows
    flattened, the last chunk masked), BLOCK_N1 output channels at a time; conv2 over the
    TILE_H*TILE_W tile, BLOCK_N2 channels at a time; both reduce BLOCK_K input channels per dot.
    """

    tile_h: int
    tile_w: int
    block_m1: int
    block_n1: int
    block_n2: int
    block_k: int
    num_warps: int = 4
    num_stages: int = 1
    programs_per_sm: int = 2
    # conv1 computes every halo chunk (at most 3) in each (tap, K block) step, one accumulator
    # each, so a tile loads each weight block once instead of once per chunk (C = 64: W1 74
    # instead of 221 KB, 574 instead of 721 KB per tile). A sweep candidate (sm_90, fp16/bf16,
    # one stage), in no table.
    chunks_per_step: bool = False

    def __post_init__(self) -> None:
        if self.chunks_per_step and self.halo_chunks > 3:
            raise ValueError(
                f"chunks_per_step takes at most 3 halo chunks, this tile has {self.halo_chunks}"
            )

    @property
    def halo_chunks(self) -> int:
        return cdiv((self.tile_h + 2) * (self.tile_w + 2), self.block_m1)

    def tile_traffic(self, channels: int, dtype: torch.dtype) -> TileTraffic:
        """Bytes of the lanes one tile's loads and stores cover (`TileTraffic`), as the kernel
        issues them.

        conv1: each (halo chunk, N block) reads its A rows and its weight block for all 9 x C
        (tap, input channel) steps (the weight block once for all chunks with
        `chunks_per_step`); conv2: each N block reads the tile's 9 shifted scratch
        windows and its weight block; plus both biases per N block and the skip tile. Stores:
        the scratch rows (every chunk row, padding included) and the output tile. Masked lanes
        (image borders, the halo's padding rows) are counted, though a GPU issues no request for
        them: per tile, not per image, and ~2 % high for an interior tile (12 padding rows of
        192).
        """
        elem = torch.empty((), dtype=dtype).element_size()
        rows1 = self.halo_chunks * self.block_m1
        rows2 = self.tile_h * self.tile_w
        steps = 9 * channels  # (tap, input channel) pairs of one output channel
        conv1 = (channels // self.block_n1) * self.halo_chunks * steps * self.block_m1
        weight_loads = 1 if self.chunks_per_step else self.halo_chunks  # W1 and b1 per tile
        conv1 += weight_loads * (steps * channels + channels)
        conv2 = (channels // self.block_n2) * steps * rows2 + steps * channels + channels
        skip = rows2 * channels
        return TileTraffic(
            load_bytes=(conv1 + conv2 + skip) * elem,
            store_bytes=(rows1 + rows2) * channels * elem,
        )


@dataclass(frozen=True)
class TileTraffic:
    """What one tile of the fused block asks of the memory system, in bytes.

    These requests go to L1 and L2 (HBM sees each input byte about once, the output once): the
    A rows of every tap, the weights of every chunk, the scratch. With num_stages > 1 on sm_90
    the pipelined operand loads (all but the biases and the skip tile) go by cp.async.cg, which
    bypasses L1: L2 traffic.
    """

    load_bytes: int
    store_bytes: int


@dataclass(frozen=True)
class ConvConfig:
    """Implicit-GEMM convolution: BLOCK_M output pixels x BLOCK_N output channels per program.

    FLAT_K: the reduction runs over the flattened (tap, input channel) index in BLOCK_K steps
    (C_in not a multiple of 16, e.g. 3 or 1 channels, so they waste no MMA work on padding; and
    9x9 kernels, which are not compiled per size); otherwise the kernel size is a constexpr and
    one loop runs over (tap, BLOCK_K block of C_in). ALIGNED: every channel count and stride is
    a multiple of 16, so the launch uses the kernel variant specialised on them (vectorised
    channel loads/stores).
    """

    block_m: int
    block_n: int
    block_k: int
    flat_k: bool
    aligned: bool
    num_warps: int = 4
    num_stages: int = 1


def arch_key(device: torch.device) -> int:
    """80 or 90: the table entry for `device` (CPU tensors, i.e. the interpreter, use 90)."""
    if device.type != "cuda":
        return 90
    return _cuda_arch(device.index if device.index is not None else torch.cuda.current_device())


@functools.cache
def _cuda_arch(index: int) -> int:
    major, minor = torch.cuda.get_device_capability(index)
    return 90 if major * 10 + minor >= 90 else 80


@functools.cache
def sm_count(index: int) -> int:
    return torch.cuda.get_device_properties(index).multi_processor_count


def _block_k(channels: int, dtype: torch.dtype) -> int:
    """The widest reduction block that divides `channels` (fp32 operands: at most 32)."""
    limit = 32 if dtype == torch.float32 else 64
    for block in (64, 32, 16):
        if block <= limit and channels % block == 0:
            return block
    return 16


# The configs `override_configs` puts in force (None: the table's). Module state, not per thread.
_override_residual_block: ResBlockConfig | None = None
_override_conv: ConvConfig | None = None


@contextlib.contextmanager
def override_configs(
    residual_block: ResBlockConfig | None = None, conv: ConvConfig | None = None
) -> Iterator[None]:
    """Development tool: inside the block, `residual_block_config` returns `residual_block` and
    `conv_config` returns `conv` for every launch (None: the table's config, as outside).

    For measuring candidate configs (bench/sweep_conv_configs.py) before they enter the tables;
    never used by the library. Not thread-safe: the override is module state, seen by every
    thread, and a block nested in another replaces both of its configs. The static compile
    check does not see overrides (`residual_block_configs` and `conv_configs` enumerate the
    tables), so an overridden launch may compile a variant that check never compiled.
    """
    global _override_residual_block, _override_conv
    saved = _override_residual_block, _override_conv
    _override_residual_block, _override_conv = residual_block, conv
    try:
        yield
    finally:
        _override_residual_block, _override_conv = saved


def residual_block_config(channels: int, dtype: torch.dtype, arch: int) -> ResBlockConfig:
    """The config a C-channel block launches with: the table's (`override_configs` aside)."""
    if _override_residual_block is not None:
        return _override_residual_block
    return _residual_block_table(channels, dtype, arch)


@functools.cache  # every launch asks: a lookup, not the arithmetic below
def _residual_block_table(channels: int, dtype: torch.dtype, arch: int) -> ResBlockConfig:
    """Table entry for a C-channel block (C a multiple of 16).

    8 x 16 output tile: a power-of-two conv2 M block (128 pixels), and a 10 x 18 = 180-pixel halo
    computed as 3 chunks of 64 (192 rows, 6.7 % padding) instead of 256 rows for a square tile
    padded to a power of two. Whole-block FLOPs: (192 + 128) / 256 = 1.25 x the two convs.
    """
    block_k = _block_k(channels, dtype)
    block_n = 64 if channels % 64 == 0 else 32 if channels % 32 == 0 else 16
    if dtype == torch.float32:
        # fp32 operands double the register cost of the A tile: halve the conv2 tile. C = 16:
        # a 4 x 8 tile whose 6 x 10 = 60-pixel halo is one 64-row chunk (4 x 16 in two chunks
        # kept a loop counter on the stack on sm_80 with Triton 3.6, one 128-row chunk spilled
        # with 3.8).
        if block_n == 16:
            return ResBlockConfig(4, 8, 64, 16, 16, block_k)
        return ResBlockConfig(4, 16, 64, min(block_n, 32), min(block_n, 32), block_k)
    # C < 64 with 64-row halo chunks: ptxas (sm_80) keeps a loop counter on the stack around the
    # barrier; 2 chunks of 128 rows (256 for 180 halo pixels) compile with no stack at all.
    block_m1 = 64 if block_n == 64 else 128
    # sm_90: two pipeline stages, so the next (tap, K block) step's operands load (cp.async)
    # while this step's wgmma runs; with one, each wgmma waited for its operands from L2 (the
    # H200 profile of 2026-11-29). Chosen on paper (not yet measured): 223-231 registers, 48 KB
    # of shared memory, 0 spills; 2 programs per SM still fit. sm_80 keeps 1 (254 registers).
    stages = 2 if arch >= 90 else 1
    return ResBlockConfig(8, 16, block_m1, block_n, block_n, block_k, num_stages=stages)


def residual_block_configs() -> list[tuple[torch.dtype, int, ResBlockConfig]]:
    """Every (dtype, example C, config) the table gives a block, over both archs.

    The choice depends on C only through its largest power-of-two divisor up to 64.
    """
    seen: dict[tuple, tuple[torch.dtype, int, ResBlockConfig]] = {}
    for dtype in DTYPES:
        for arch in ARCHS:
            for channels in range(16, 512 + 16, 16):
                config = _residual_block_table(channels, dtype, arch)
                seen.setdefault((dtype, config), (dtype, channels, config))
    return list(seen.values())


def conv_config(
    c_in: int, c_out: int, c_final: int, ks: int, dtype: torch.dtype, arch: int
) -> ConvConfig:
    """The config a convolution launches with: the table's (`override_configs` aside)."""
    if _override_conv is not None:
        return _override_conv
    return _conv_table(c_in, c_out, c_final, ks, dtype, arch)


@functools.cache
def _conv_table(
    c_in: int, c_out: int, c_final: int, ks: int, dtype: torch.dtype, arch: int
) -> ConvConfig:
    """Table entry for a stride-1 'same' KS x KS convolution C_in -> C_out (C_out counts the
    shuffled channels of the upsampler; C_final = C_out / r^2 is the stored channel count).

    Tiles are chosen for 0 spills (cuobjdump, sm_80 and sm_90). Aligned: BLOCK_N 16 for
    C_out <= 16, else 64; BLOCK_M 128 for fp16/bf16, 64 for fp32. The flat and unaligned
    variants address every element separately (2-D 64-bit offsets, shuffled stores), so they take
    32 x 16 or 32 x 32 tiles (fp32: 16 x 16 or 16 x 32).
    """
    del arch  # one table for sm_80 and sm_90 until GPU measurements say otherwise
    flat = c_in % 16 != 0 or ks not in PER_SIZE_KERNEL_SIZES
    aligned = not flat and c_out % 16 == 0 and c_final % 16 == 0
    if not aligned:
        block_n = 16 if c_out <= 16 else 32
        # fp32 (tf32x3 doubles the operand registers): 32-row shuffled-store tiles spilled
        # 16 bytes on sm_90 with Triton 3.6 (the GPU machine's), not with 3.8.
        block_m = 16 if dtype == torch.float32 else 32
    else:
        block_n = 16 if c_out <= 16 else 64
        # fp32: 64 rows. (32 x 64 tiles of 5x5 taps kept 8 bytes on the stack on sm_90 with
        # Triton 3.6 once the taps became a loop; 64 x 64 compiles with none, 113-165 registers.)
        block_m = 128 if dtype != torch.float32 else 64
    # fp32 3x3 and 5x5 (per-size path): tf32x3 splits both operand tiles into TF32 high and low
    # parts (twice the operand registers); a 32-wide K block spilled (3x3: sm_80/sm_90; 5x5:
    # sm_90 with Triton 3.6), 16 does not.
    block_k = 16 if (dtype == torch.float32 and not flat and ks in (3, 5)) else 32
    return ConvConfig(block_m, block_n, block_k, flat_k=flat, aligned=aligned)


PER_SIZE_KERNEL_SIZES = (1, 3, 5)  # compiled with the kernel size as a constexpr


def conv_configs(shuffle: bool = False) -> list[tuple[torch.dtype, int, ConvConfig]]:
    """Every (dtype, kernel size, config) the table gives a convolution (flat configs: size 0).

    `shuffle`: the upsampler's set (3x3 only, C_out = C_final * r^2 with r in 2, 3).
    """
    seen: dict[tuple, tuple[torch.dtype, int, ConvConfig]] = {}
    sizes = (3,) if shuffle else (1, 3, 5, 9)
    for dtype in DTYPES:
        for arch in ARCHS:
            for ks in sizes:
                for c_in in (1, 3, 16, 64):
                    for c_final in (1, 3, 16, 64, 256):
                        for r in (2, 3) if shuffle else (1,):
                            c_out = c_final * r * r
                            config = _conv_table(c_in, c_out, c_final, ks, dtype, arch)
                            key_ks = 0 if config.flat_k else ks
                            seen.setdefault((dtype, key_ks, config), (dtype, key_ks, config))
    return list(seen.values())


def allow_tf32() -> bool:
    """Always False: fp32 convolutions use ``tl.dot(input_precision="tf32x3")``.

    tf32x3 splits each fp32 operand into a TF32 high part and a TF32 low part and sums three
    TF32 MMAs (fp32 accumulation): close to fp32 accuracy (relative error ~1e-7 plus fp32
    accumulation) on tensor cores, for about 3x the MMA work of single-pass TF32. Single-pass
    TF32 is not offered: Triton's TF32 MMA truncates the operands (relative error ~7e-4 on wide
    reductions, above the 5e-4 TF32 floor of STYLE.md section 8), and every extra variant adds
    to the static sm_80/sm_90 compile check. ``SR_KERNELS_ALLOW_TF32`` may be unset, ``0`` or
    ``auto``; ``1`` is refused with this explanation. (The custom ops keep their
    ``allow_tf32`` argument for schema stability; `precision` ignores it.)
    """
    value = os.environ.get(TF32_ENV, "auto")
    if value in ("0", "", "auto"):
        return False
    if value == "1":
        raise ValueError(
            f"{TF32_ENV}=1: single-pass TF32 is not offered (Triton's TF32 MMA truncates the "
            "operands, relative error ~7e-4); fp32 convolutions use near-fp32 tf32x3"
        )
    raise ValueError(f"{TF32_ENV} must be 0 or auto (or unset), got {value!r}")


def precisions(dtype: torch.dtype) -> tuple[str, ...]:
    """Every `precision` value launched for `dtype` (for aot_configs)."""
    return ("tf32x3",) if dtype == torch.float32 else ("ieee",)


def precision(dtype: torch.dtype, tf32: bool = False) -> str:
    """`tl.dot` input_precision: "tf32x3" (near fp32) for fp32 operands, whatever `tf32` says;
    "ieee" for fp16/bf16 (native fp16/bf16 MMA; Triton ignores the argument for them)."""
    del tf32  # single-pass TF32 is not offered (see allow_tf32)
    return "tf32x3" if dtype == torch.float32 else "ieee"
