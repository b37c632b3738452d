"""Triton fused EDSR residual block: ``x + res_scale * (conv3x3(relu(conv3x3(x) + b1)) + b2)``.

Work decomposition: persistent programs (``programs_per_sm`` x SM count, or fewer) walk output
tiles of TILE_H x TILE_W pixels (all C channels) of NHWC images. Per tile:
  1. conv1 + bias + ReLU over the (TILE_H+2) x (TILE_W+2) halo, as an implicit GEMM
     (M = halo pixels in chunks of BLOCK_M1, N = C in BLOCK_N1 blocks, K = 9 taps x C in
     BLOCK_K blocks as ONE loop, ``tl.dot`` with an fp32 accumulator); halo pixels
     outside the image are set to 0 (conv2's zero padding). The ReLU tile is stored, rounded to
     the storage dtype as eager PyTorch rounds it, into this program's slot of a small scratch
     buffer (programs x 2 x 192 x C elements: 6.5 M, 13 MB, for 264 programs at C = 64 bf16,
     so it stays in the 50 MB L2 and is reused by every tile the program walks).
  2. ``tl.debug_barrier()`` (the CTA's stores are visible to all its threads), then conv2 from
     the 9 shifted TILE_H x TILE_W windows of the slot (L1/L2 hits), epilogue
     ``x + res_scale * (acc + b2)`` in fp32, one rounding, one store. Each program alternates
     between two scratch buffers, so the next step's barrier also keeps the conv1 stores two
     steps later behind this step's conv2 loads (one barrier per tile; a second barrier in the
     loop made ptxas keep the loop counter on the stack on sm_80). Every program runs the same
     number of steps (past the end it recomputes the last tile: identical values, identical
     stores), so the barrier is reached uniformly (a trip count per program, from its pid,
     kept a loop counter on the stack on sm_80 too). The launcher takes the fewest programs
     that still finish in as many steps (programs = cdiv(tiles, steps)), so fewer than `steps`
     tiles are redone; until 2026-12-01 it launched 2 per SM, which on the 16 x 64 x 48 x 48
     batch redid 240 of the 528 tiles it ran.
The C-channel intermediate never travels through HBM as a full-size tensor.

Bytes and FLOPs per output pixel (C = 64, bf16/fp16): useful 2 x 18 C^2 = 147 kFLOP; executed
1.25x that (halo 180 -> 192 rows for 128 outputs). HBM: read x once + write out once = 4C = 256 B
(halo re-reads and the scratch hit L1/L2): 576 FLOP/B, above the bf16 ridge (295 FLOP/B), so
the block is not HBM-bound. Expected bound: operand traffic through L1/L2.
`ResBlockConfig.tile_traffic` counts what a tile's loads and stores ask for (tested against the
interpreter's count): C = 64, 721 KB per 8 x 16 tile = 5.6 KB per output pixel (A rows of
every tap 221 KB, W1 once per halo chunk 221 KB, scratch windows 147 KB, W2 74 KB), 33 executed
FLOP/B; C = 256, 85 KB per pixel (the A rows again for each of 4 N blocks, W1 for each of 3
chunks), 35 FLOP/B: about the same intensity. The H200 times of 2026-11-29 below (plain LDG
loads then) are consistent with a bound there, though no L1/L2 peak was measured to compare
with: on 1 x 270 x 480 the tiles run (1056, the redone ones included) asked 0.76 GB in 139 us
(C = 64) and 11.5 GB in 1.93 ms (C = 256), 5.5 and 5.9 TB/s, the same rate for 15x the bytes,
while the MMAs ran at 17 % and 20 % of the bf16 rate. (The 16 x 64 x 48 x 48 batch, 288 tiles,
asked only 2.3 TB/s at C = 64: too few tiles to fill the GPU.) So C = 256 is not compute-bound
(as this header said before 2026-12-01): what would speed either C up is fewer bytes per tile
(at C = 256 wider N blocks: 128-wide conv1 blocks -16 %, both convs -27 %, but 128 x 128 conv2
accumulators spilled in the sweep's static pre-screen), not a better MMA schedule; the CUDA
kernel keeps its input tile in shared memory for this reason. With two pipeline stages (the
sm_90 table's since 2026-11-30) the operands load by cp.async.cg, which bypasses L1: taps that
hit L1 with LDG then come from L2, one more reason the sweep times one stage against two.
`ResBlockConfig.chunks_per_step` cuts the weight traffic: conv1 runs every halo chunk (at most
3) in each (tap, K block) step with an accumulator each, so W1 loads once per tile (C = 64:
574 instead of 721 KB per tile). Static (bf16 C = 64, sm_90): one stage 255 registers with
Triton 3.6 (244 with 3.8) and 0 spills, two stages spill (sm_80 spills with either); a sweep
candidate, in no table until a GPU times it.
Measured (H200, 2026-11-29, bf16 NHWC, bench/results/2026-11-29-nvidia-h200.md): x4_270x480 in
139 us (137 TFLOP/s useful, 17 % of the measured bf16 matrix rate; cuDNN eager 129 us, 0.92x);
16 x 64 x 48 x 48 in 168 us (0.57x); C = 256 on 270x480 in 1.93 ms (0.37x). The SASS (sm_90,
Triton 3.6) had its wgmma (HGMMA 64xNx16) fed by plain LDG loads (no cp.async/TMA): every dot
waited for its operands from L2, and with 2 programs of 4 warps per SM little hid it. The taps
were then a loop of 3 rows with the 3 columns unrolled around an inner loop over K blocks of 1
step at C = 64, so even num_stages > 1 had nothing to prefetch across. Since 2026-11-30 each
conv's (tap, K block) steps are one loop of 9 * C / BLOCK_K steps: with num_stages = s Triton
keeps s - 1 steps of operands in flight (cp.async into shared memory, wgmma.wait_group 1), seen
in the sm_90 PTX/SASS with Triton 3.6 and 3.8; C = 64 bf16 at s = 2: 223-231 registers, 48 KB
shared, 0 spills (s = 3: 255 registers, 72 KB). The sm_90 fp16/bf16 table entries take s = 2
on that basis, not yet measured; bench/sweep_conv_configs.py times s = 1, 2 and 3 against
each other (sm_80 keeps s = 1: 254 registers at s = 2).
Flattened (tap, K) loops with 8 warps have miscompiled in Triton (pytorch/pytorch#173068); the
tables use 4 warps, and the sweep checks every candidate against float64 before timing it.

Accumulation: fp32 for every dtype. fp32 operands: ``tl.dot(input_precision="tf32x3")``
(near fp32); single-pass TF32 is not offered (see `_conv_configs.allow_tf32`).
Alignment: NHWC with channel stride 1 (the launcher
converts other layouts with one documented copy); C a multiple of 16.

Registered as ``sr_kernels::residual_block_triton`` with ``torch.library.custom_op`` + fake +
autograd. The backward recomputes the ReLU intermediate (one conv with fused bias + ReLU) rather
than storing it: a stack of blocks saves one activation per block (its input) instead of two
(eager saves the input and the ReLU output), i.e. half the activation memory; the gradient
convolutions use ``aten.convolution_backward`` (cuDNN on GPU).
"""

from __future__ import annotations

from typing import Any

import torch
import triton
import triton.language as tl

from .. import _layout, _trace
from . import _conv_configs as configs
from . import conv2d_act as _conv
from ._launch import aligned, cdiv, nhwc_strides, on_device

_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def supports(meta: dict[str, Any]) -> str | None:
    if meta["dtype"] not in _DTYPES:
        return f"dtype {meta['dtype']} is not supported (float32, float16, bfloat16)"
    if meta["device"] == "cpu" and meta["dtype"] == torch.bfloat16:
        return "bfloat16 is not supported by the Triton interpreter"
    channels = meta.get("channels")
    if channels is not None and channels % 16 != 0:
        return f"C = {channels} is not a multiple of 16 (tl.dot needs K blocks of 16)"
    return None


# The integer arguments that vary with the image are not specialised by value, so a launch
# compiles exactly a variant that `aot_configs()` lists. C and the strides stay specialised: with
# C % 16 == 0 and NHWC they are always multiples of 16 (Triton's divisibility specialisation,
# which vectorises the channel loads), as are the pointers (the launcher copies a misaligned
# tensor).
_UNSPECIALISED = ("H", "W", "tiles_w", "tiles_per_image", "total_tiles", "steps")
DIVISIBLE_BY_16 = (
    "x", "w1", "b1", "w2", "b2", "out", "scratch",
    "C", "sxn", "sxh", "sxw", "son", "soh", "sow", "swo", "swh", "sww",
)  # fmt: skip


@triton.jit
def _halo_chunk(chunk, y0, x0, H, W, sxh, sxw, HALO: tl.constexpr, HALO_W: tl.constexpr,
                BLOCK_M1: tl.constexpr):  # fmt: skip
    """Rows `chunk * BLOCK_M1 + i` of the flattened halo: their pixel (gy, gx), whether they are
    halo pixels (the last chunk has padding rows) and inside the image, their NHWC offset."""
    p = chunk * BLOCK_M1 + tl.arange(0, BLOCK_M1)
    gy = y0 - 1 + p // HALO_W
    gx = x0 - 1 + p % HALO_W
    in_halo = p < HALO
    in_image = in_halo & (gy >= 0) & (gy < H) & (gx >= 0) & (gx < W)
    return p, gy, gx, in_halo, in_image, gy.to(tl.int64) * sxh + gx.to(tl.int64) * sxw


@triton.jit
def _tap_step(step_k, k_steps, ck, BLOCK_K: tl.constexpr):
    """Tap (ky, kx) and input channels of step `step_k` of a conv's (tap, K block) loop."""
    tap = step_k // k_steps
    ky = tap // 3
    return ky, tap - ky * 3, (step_k - tap * k_steps) * BLOCK_K + ck


@triton.jit
def _weight_block(w, ky, kx, ci, co, swo, swh, sww):
    """The (ci, co) block of the channels_last 3 x 3 weights at tap (ky, kx)."""
    return tl.load(w + ky * swh + kx * sww + co[None, :] * swo + ci[:, None])


@triton.jit
def _conv1_operand(x_image, gy, gx, in_halo, centre, ky, kx, ci, H, W, sxh, sxw):
    """conv1's A block for tap (ky, kx): the halo rows' neighbours, zeros outside the image."""
    iy = gy + (ky - 1)
    ix = gx + (kx - 1)
    ok = in_halo & (iy >= 0) & (iy < H) & (ix >= 0) & (ix < W)
    row = centre + ((ky - 1) * sxh + (kx - 1) * sxw)
    return tl.load(x_image + row[:, None] + ci[None, :], mask=ok[:, None], other=0.0)


@triton.jit
def _conv1_epilogue(acc, bias, slot, p, in_halo, in_image, co, C):
    """bias + ReLU of a chunk's conv1 block, rounded to the storage dtype, into the scratch slot
    (zeros outside the image: conv2's zero padding)."""
    # ReLU as a select, not tl.maximum: on the GPU that returns the non-NaN operand
    # (max(NaN, 0) = 0) while torch.relu, and the interpreter, keep the NaN.
    act = acc + bias[None, :]
    act = tl.where(in_image[:, None] & ~(act < 0.0), act, 0.0)
    tl.store(
        slot + p[:, None] * C + co[None, :],
        act.to(slot.dtype.element_ty),
        mask=in_halo[:, None],
    )


@triton.jit(do_not_specialize=_UNSPECIALISED)
def _residual_block_kernel(
    x, w1, b1, w2, b2, out, scratch,
    H, W, C,
    sxn, sxh, sxw,
    son, soh, sow,
    swo, swh, sww,
    res_scale,
    tiles_w, tiles_per_image, total_tiles, steps,
    TILE_H: tl.constexpr, TILE_W: tl.constexpr,
    BLOCK_M1: tl.constexpr, HALO_CHUNKS: tl.constexpr,
    BLOCK_N1: tl.constexpr, BLOCK_N2: tl.constexpr, BLOCK_K: tl.constexpr,
    CHUNKS_PER_STEP: tl.constexpr, PRECISION: tl.constexpr,
):  # fmt: skip
    HALO_W: tl.constexpr = TILE_W + 2
    HALO: tl.constexpr = (TILE_H + 2) * HALO_W
    ROWS: tl.constexpr = HALO_CHUNKS * BLOCK_M1
    BLOCK_M2: tl.constexpr = TILE_H * TILE_W
    pid = tl.program_id(0)
    ck = tl.arange(0, BLOCK_K)
    cn1 = tl.arange(0, BLOCK_N1)
    cn2 = tl.arange(0, BLOCK_N2)
    q = tl.arange(0, BLOCK_M2)
    oy = q // TILE_W
    ox = q % TILE_W
    window = oy * HALO_W + ox  # halo row of output pixel q's top-left tap
    k_steps = C // BLOCK_K
    for step in range(0, steps):
        # Tile `pid + step * programs`; past the end, programs redo the last tile (identical
        # values, identical stores), so every thread of every program takes the same trip count.
        tile = tl.minimum(pid + step * tl.num_programs(0), total_tiles - 1)
        # Two scratch buffers used alternately: the barrier of the next step also orders this
        # step's conv2 loads before the step-after-next's conv1 stores into the same buffer.
        slot = scratch + (pid.to(tl.int64) * 2 + step % 2) * ROWS * C
        image = tile // tiles_per_image
        rest = tile % tiles_per_image
        y0 = (rest // tiles_w) * TILE_H
        x0 = (rest % tiles_w) * TILE_W
        x_image = x + image.to(tl.int64) * sxn

        # conv1 + b1 + ReLU over the halo -> scratch slot (rows = flattened halo pixels).
        if CHUNKS_PER_STEP:
            # Every chunk in each (tap, K block) step: the weight block loads once per tile,
            # not once per chunk (ResBlockConfig.chunks_per_step; at most 3 chunks).
            tl.static_assert(HALO_CHUNKS <= 3, "CHUNKS_PER_STEP computes at most 3 halo chunks")
            p0, gy0, gx0, halo0, image0, centre0 = _halo_chunk(
                0, y0, x0, H, W, sxh, sxw, HALO, HALO_W, BLOCK_M1
            )
            p1, gy1, gx1, halo1, image1, centre1 = _halo_chunk(
                1, y0, x0, H, W, sxh, sxw, HALO, HALO_W, BLOCK_M1
            )
            p2, gy2, gx2, halo2, image2, centre2 = _halo_chunk(
                2, y0, x0, H, W, sxh, sxw, HALO, HALO_W, BLOCK_M1
            )
            for n0 in range(0, C, BLOCK_N1):
                co = n0 + cn1
                acc0 = tl.zeros((BLOCK_M1, BLOCK_N1), dtype=tl.float32)
                acc1 = tl.zeros((BLOCK_M1, BLOCK_N1), dtype=tl.float32)
                acc2 = tl.zeros((BLOCK_M1, BLOCK_N1), dtype=tl.float32)
                for step_k in range(0, 9 * k_steps):
                    ky, kx, ci = _tap_step(step_k, k_steps, ck, BLOCK_K)
                    b = _weight_block(w1, ky, kx, ci, co, swo, swh, sww)
                    a = _conv1_operand(
                        x_image, gy0, gx0, halo0, centre0, ky, kx, ci, H, W, sxh, sxw
                    )
                    acc0 = tl.dot(a, b, acc0, input_precision=PRECISION)
                    if HALO_CHUNKS > 1:
                        a = _conv1_operand(
                            x_image, gy1, gx1, halo1, centre1, ky, kx, ci, H, W, sxh, sxw
                        )
                        acc1 = tl.dot(a, b, acc1, input_precision=PRECISION)
                    if HALO_CHUNKS > 2:
                        a = _conv1_operand(
                            x_image, gy2, gx2, halo2, centre2, ky, kx, ci, H, W, sxh, sxw
                        )
                        acc2 = tl.dot(a, b, acc2, input_precision=PRECISION)
                bias = tl.load(b1 + co).to(tl.float32)
                _conv1_epilogue(acc0, bias, slot, p0, halo0, image0, co, C)
                if HALO_CHUNKS > 1:
                    _conv1_epilogue(acc1, bias, slot, p1, halo1, image1, co, C)
                if HALO_CHUNKS > 2:
                    _conv1_epilogue(acc2, bias, slot, p2, halo2, image2, co, C)
        else:
            for chunk in range(HALO_CHUNKS):
                p, gy, gx, in_halo, in_image, centre = _halo_chunk(
                    chunk, y0, x0, H, W, sxh, sxw, HALO, HALO_W, BLOCK_M1
                )
                for n0 in range(0, C, BLOCK_N1):
                    co = n0 + cn1
                    acc = tl.zeros((BLOCK_M1, BLOCK_N1), dtype=tl.float32)
                    # One loop over (tap, K block): with num_stages > 1 Triton prefetches the
                    # next steps' operands (cp.async) while this step's dot runs.
                    for step_k in range(0, 9 * k_steps):
                        ky, kx, ci = _tap_step(step_k, k_steps, ck, BLOCK_K)
                        a = _conv1_operand(
                            x_image, gy, gx, in_halo, centre, ky, kx, ci, H, W, sxh, sxw
                        )
                        b = _weight_block(w1, ky, kx, ci, co, swo, swh, sww)
                        acc = tl.dot(a, b, acc, input_precision=PRECISION)
                    bias = tl.load(b1 + co).to(tl.float32)
                    _conv1_epilogue(acc, bias, slot, p, in_halo, in_image, co, C)
        tl.debug_barrier()

        # conv2 from the shifted windows of the slot, epilogue x + res_scale * (acc + b2).
        gy = y0 + oy
        gx = x0 + ox
        valid = (gy < H) & (gx < W)
        skip_row = gy.to(tl.int64) * sxh + gx.to(tl.int64) * sxw
        out_row = image.to(tl.int64) * son + gy.to(tl.int64) * soh + gx.to(tl.int64) * sow
        for n0 in range(0, C, BLOCK_N2):
            co = n0 + cn2
            acc = tl.zeros((BLOCK_M2, BLOCK_N2), dtype=tl.float32)
            for step_k in range(0, 9 * k_steps):  # (tap, K block), as in conv1
                ky, kx, ci = _tap_step(step_k, k_steps, ck, BLOCK_K)
                src = window + (ky * HALO_W + kx)
                a = tl.load(slot + src[:, None] * C + ci[None, :])
                b = _weight_block(w2, ky, kx, ci, co, swo, swh, sww)
                acc = tl.dot(a, b, acc, input_precision=PRECISION)
            bias = tl.load(b2 + co).to(tl.float32)
            skip = tl.load(x_image + skip_row[:, None] + co[None, :], mask=valid[:, None])
            result = skip.to(tl.float32) + res_scale * (acc + bias[None, :])
            tl.store(
                out + out_row[:, None] + co[None, :],
                result.to(out.dtype.element_ty),
                mask=valid[:, None],
            )


def _nhwc(t: torch.Tensor) -> torch.Tensor:
    """`t` with channel stride 1 (NHWC); a copy only when it is not already laid out so."""
    return t.contiguous(memory_format=torch.channels_last)


def grid(tiles: int, cfg: configs.ResBlockConfig, device: torch.device) -> tuple[int, int]:
    """(programs, steps) of a launch over `tiles` output tiles (> 0): as few programs as finish
    in the steps that `programs_per_sm` per SM need, so fewer than `steps` tiles are redone."""
    if device.type == "cuda":
        slots = cfg.programs_per_sm * configs.sm_count(device.index or 0)
    else:
        slots = 4  # the interpreter runs programs one after another
    steps = cdiv(tiles, slots)
    return cdiv(tiles, steps), steps


def _launch(
    x: torch.Tensor,
    w1: torch.Tensor,
    b1: torch.Tensor,
    w2: torch.Tensor,
    b2: torch.Tensor,
    res_scale: float,
    allow_tf32: bool,
) -> torch.Tensor:
    n, c, h, w = x.shape
    xc = aligned(_nhwc(x))
    out = torch.empty_like(xc, memory_format=torch.channels_last)
    if out.numel() > 0:
        w1c, w2c = aligned(_nhwc(w1)), aligned(_nhwc(w2))
        # Both weight sets (3x3, same shape, channels_last) share the strides the kernel takes.
        assert w1c.shape == w2c.shape and w1c.stride(1) == 1 and w2c.stride(1) == 1
        arch = configs.arch_key(x.device)
        cfg = configs.residual_block_config(c, x.dtype, arch)
        tiles_w = cdiv(w, cfg.tile_w)
        tiles_per_image = cdiv(h, cfg.tile_h) * tiles_w
        total = n * tiles_per_image
        programs, steps = grid(total, cfg, x.device)
        scratch = torch.empty(
            (programs, 2, cfg.halo_chunks * cfg.block_m1, c), dtype=x.dtype, device=x.device
        )
        with on_device(x):
            _residual_block_kernel[(programs,)](
                xc, w1c, aligned(b1.contiguous()), w2c, aligned(b2.contiguous()), out, scratch,
                h, w, c,
                *nhwc_strides(xc), *nhwc_strides(out), *nhwc_strides(w1c),
                float(res_scale),
                tiles_w, tiles_per_image, total, steps,
                TILE_H=cfg.tile_h, TILE_W=cfg.tile_w,
                BLOCK_M1=cfg.block_m1, HALO_CHUNKS=cfg.halo_chunks,
                BLOCK_N1=cfg.block_n1, BLOCK_N2=cfg.block_n2, BLOCK_K=cfg.block_k,
                CHUNKS_PER_STEP=cfg.chunks_per_step,
                PRECISION=configs.precision(x.dtype, allow_tf32),
                num_warps=cfg.num_warps, num_stages=cfg.num_stages,
            )  # fmt: skip
    _trace.record("residual_block", "triton")
    return _layout.as_format_of(out, x)


@torch.library.custom_op("sr_kernels::residual_block_triton", mutates_args=())
def residual_block_triton(
    x: torch.Tensor,
    w1: torch.Tensor,
    b1: torch.Tensor,
    w2: torch.Tensor,
    b2: torch.Tensor,
    res_scale: float,
    allow_tf32: bool,
) -> torch.Tensor:
    return _launch(x, w1, b1, w2, b2, res_scale, allow_tf32)


@residual_block_triton.register_fake
def _(x, w1, b1, w2, b2, res_scale, allow_tf32):
    return torch.empty_like(x, memory_format=_layout.memory_format(x))


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
    x, w1, b1, w2, b2, res_scale, allow_tf32 = inputs
    ctx.save_for_backward(x, w1, b1, w2)
    ctx.res_scale = res_scale
    ctx.allow_tf32 = allow_tf32


def _backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
    x, w1, b1, w2 = ctx.saved_tensors
    # Recompute the intermediate r = relu(conv1(x) + b1) (not stored by the forward).
    r = _conv.conv2d_act_triton(x, w1, b1, "zeros", "relu", ctx.allow_tf32)
    # The branch's gradient is res_scale * grad: the scale goes into w2 for the data gradient
    # (9 C^2 elements instead of a full-size product of grad) and onto the small weight and bias
    # gradients after.
    # Only the gradients autograd asks for (a frozen layer's weights, an input without grad).
    need_x, need_w1, need_b1, need_w2, need_b2 = ctx.needs_input_grad[:5]
    need_first = need_x or need_w1 or need_b1
    scale = ctx.res_scale
    g_r, g_w2, g_b2 = torch.ops.aten.convolution_backward(
        grad, r, w2 if scale == 1.0 or not need_first else w2 * scale,
        [w2.shape[0]], [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [need_first, need_w2, need_b2],
    )  # fmt: skip
    if scale != 1.0:
        g_w2 = g_w2 * scale if need_w2 else None
        g_b2 = g_b2 * scale if need_b2 else None
    g_x = g_w1 = g_b1 = None
    if need_first:
        g_y1 = torch.ops.aten.threshold_backward.default(g_r, r, 0)  # ReLU's own (NaN passes)
        g_x, g_w1, g_b1 = torch.ops.aten.convolution_backward(
            g_y1, x, w1, [w1.shape[0]], [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
            [need_x, need_w1, need_b1],
        )  # fmt: skip
    if need_x:
        g_x = g_x.add_(grad)
    return g_x, g_w1, g_b1, g_w2, g_b2, None, None


residual_block_triton.register_autograd(_backward, setup_context=_setup_context)


def residual_block(
    x: torch.Tensor,
    w1: torch.Tensor,
    b1: torch.Tensor,
    w2: torch.Tensor,
    b2: torch.Tensor,
    res_scale: float = 1.0,
) -> torch.Tensor:
    return residual_block_triton(x, w1, b1, w2, b2, float(res_scale), configs.allow_tf32())


def aot_configs() -> list[dict[str, Any]]:
    """Every configuration this module launches, for the static sm_80/sm_90 compile check."""
    pointer = {torch.float32: "*fp32", torch.float16: "*fp16", torch.bfloat16: "*bf16"}
    result = []
    for (dtype, channels, cfg), precision in (
        (entry, precision)
        for entry in configs.residual_block_configs()
        for precision in configs.precisions(entry[0])
    ):
        p = pointer[dtype]
        signature = {name: p for name in ("x", "w1", "b1", "w2", "b2", "out", "scratch")}
        for name in ("H", "W", "C", "sxn", "sxh", "sxw", "son", "soh", "sow", "swo", "swh", "sww"):
            signature[name] = "i32"
        signature["res_scale"] = "fp32"
        for name in ("tiles_w", "tiles_per_image", "total_tiles", "steps"):
            signature[name] = "i32"
        constexprs = {
            "TILE_H": cfg.tile_h,
            "TILE_W": cfg.tile_w,
            "BLOCK_M1": cfg.block_m1,
            "HALO_CHUNKS": cfg.halo_chunks,
            "BLOCK_N1": cfg.block_n1,
            "BLOCK_N2": cfg.block_n2,
            "BLOCK_K": cfg.block_k,
            "CHUNKS_PER_STEP": cfg.chunks_per_step,
            "PRECISION": precision,
        }
        for name in constexprs:
            signature[name] = "constexpr"
        result.append(
            {
                "kernel": _residual_block_kernel,
                "divisible_by_16": list(DIVISIBLE_BY_16),
                "signature": signature,
                "constexprs": constexprs,
                "num_warps": cfg.num_warps,
                "num_stages": cfg.num_stages,
                "name": f"residual_block[{p[1:]},C={channels},{precision},{cfg}]",
            }
        )
    return result
