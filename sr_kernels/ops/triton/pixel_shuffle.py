"""Triton pixel_shuffle / pixel_unshuffle: one strided-copy kernel over a 6-D index space.

Work decomposition: each program copies BLOCK destination elements in the destination's memory
order (coalesced stores); the (n, c, h, i, w, j) coordinates are recovered by division and the
source is gathered with its strides. Bytes per element: one read + one write, no FLOPs, so the
roofline bound is HBM bandwidth. The copy moves raw bits (the tensor is viewed as an integer
type of the same width), so every dtype is exact and bf16 also works under the interpreter.

Registered as `sr_kernels::pixel_shuffle_triton` / `pixel_unshuffle_triton` with
`torch.library.custom_op` (+ fake + autograd), testable under TRITON_INTERPRET=1.
"""

from __future__ import annotations

from typing import Any

import torch
import triton
import triton.language as tl

from .. import _layout, _trace
from ._launch import cdiv, on_device

_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.uint8, torch.float64)
_BITS_VIEW = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}
BLOCK = 1024
# 64-bit index arithmetic needs twice the registers: at BLOCK 1024 it spilled (255 registers,
# 40-80 bytes of stack on sm_80/sm_90); at 256 it fits.
BLOCK_64 = 256
NUM_WARPS = 4


def supports(meta: dict[str, Any]) -> str | None:
    return None if meta["dtype"] in _DTYPES else f"dtype {meta['dtype']} is not supported"


@triton.jit
def _pixel_shuffle_kernel(
    src,
    dst,
    total,
    size0, size1, size2, size3, size4, size5,
    dst0, dst1, dst2, dst3, dst4, dst5,
    src0, src1, src2, src3, src4, src5,
    BLOCK: tl.constexpr,
    INDEX_64: tl.constexpr,
):  # fmt: skip
    # 32-bit index arithmetic when every offset fits: 64-bit division is several times slower
    # and bounds this kernel by integer throughput, not memory.
    if INDEX_64:
        offsets = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    else:
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < total
    rest = offsets
    index = rest % size5
    rest = rest // size5
    dst_offset = index * dst5
    src_offset = index * src5
    index = rest % size4
    rest = rest // size4
    dst_offset += index * dst4
    src_offset += index * src4
    index = rest % size3
    rest = rest // size3
    dst_offset += index * dst3
    src_offset += index * src3
    index = rest % size2
    rest = rest // size2
    dst_offset += index * dst2
    src_offset += index * src2
    index = rest % size1
    rest = rest // size1
    dst_offset += index * dst1 + rest * dst0
    src_offset += index * src1 + rest * src0
    values = tl.load(src + src_offset, mask=mask)
    tl.store(dst + dst_offset, values, mask=mask)


def _output(x: torch.Tensor, r: int, upscale: bool) -> torch.Tensor:
    n, c, h, w = x.shape
    shape = (n, c // (r * r), h * r, w * r) if upscale else (n, c * r * r, h // r, w // r)
    return torch.empty(
        shape, dtype=x.dtype, device=x.device, memory_format=_layout.memory_format(x)
    )


def _copy_map(
    x: torch.Tensor, out: torch.Tensor, r: int, upscale: bool
) -> list[tuple[int, int, int]]:
    """(size, dst stride, src stride) for each of the six dimensions, destination memory order."""
    big, small = (out, x) if upscale else (x, out)
    n, c = big.shape[0], big.shape[1]
    h, w = small.shape[2], small.shape[3]
    bs, ss = big.stride(), small.stride()
    # (size, stride in big = (N, C, H*r, W*r), stride in small = (N, C*r*r, H, W))
    dn, dc = (n, bs[0], ss[0]), (c, bs[1], r * r * ss[1])
    dh, di = (h, r * bs[2], ss[2]), (r, bs[2], r * ss[1])
    dw, dj = (w, r * bs[3], ss[3]), (r, bs[3], ss[1])
    channels_last = _layout.memory_format(x) == torch.channels_last
    if upscale:
        order = [dn, dh, di, dw, dj, dc] if channels_last else [dn, dc, dh, di, dw, dj]
        return [(size, b, s) for size, b, s in order]
    order = [dn, dh, dw, dc, di, dj] if channels_last else [dn, dc, di, dj, dh, dw]
    return [(size, s, b) for size, b, s in order]


def _launch(x: torch.Tensor, r: int, upscale: bool) -> torch.Tensor:
    out = _output(x, r, upscale)
    total = out.numel()
    if total == 0:
        _trace.record("pixel_shuffle" if upscale else "pixel_unshuffle", "triton")
        return out
    dims = _copy_map(x, out, r, upscale)
    bits = _BITS_VIEW[x.element_size()]
    limit = 2**31 - 1
    extent = max(
        sum((size - 1) * dst for size, dst, _ in dims),
        sum((size - 1) * src for size, _, src in dims),
    )
    index_64 = total >= limit or extent >= limit
    block = BLOCK_64 if index_64 else BLOCK
    grid = (cdiv(total, block),)
    with on_device(out):
        _pixel_shuffle_kernel[grid](
            x.view(bits),
            out.view(bits),
            total,
            *[d[0] for d in dims],
            *[d[1] for d in dims],
            *[d[2] for d in dims],
            BLOCK=block,
            INDEX_64=index_64,
            num_warps=NUM_WARPS,
        )
    _trace.record("pixel_shuffle" if upscale else "pixel_unshuffle", "triton")
    return out


@torch.library.custom_op("sr_kernels::pixel_shuffle_triton", mutates_args=())
def pixel_shuffle_triton(x: torch.Tensor, r: int) -> torch.Tensor:
    return _launch(x, r, upscale=True)


@torch.library.custom_op("sr_kernels::pixel_unshuffle_triton", mutates_args=())
def pixel_unshuffle_triton(x: torch.Tensor, r: int) -> torch.Tensor:
    return _launch(x, r, upscale=False)


@pixel_shuffle_triton.register_fake
def _(x: torch.Tensor, r: int) -> torch.Tensor:
    return _output(x, r, upscale=True)


@pixel_unshuffle_triton.register_fake
def _(x: torch.Tensor, r: int) -> torch.Tensor:
    return _output(x, r, upscale=False)


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
    ctx.r = inputs[1]


pixel_shuffle_triton.register_autograd(
    lambda ctx, grad: (pixel_unshuffle_triton(grad, ctx.r), None), setup_context=_setup_context
)
pixel_unshuffle_triton.register_autograd(
    lambda ctx, grad: (pixel_shuffle_triton(grad, ctx.r), None), setup_context=_setup_context
)


def pixel_shuffle(x: torch.Tensor, r: int) -> torch.Tensor:
    return pixel_shuffle_triton(x, r)


def pixel_unshuffle(x: torch.Tensor, r: int) -> torch.Tensor:
    return pixel_unshuffle_triton(x, r)


def aot_configs() -> list[dict[str, Any]]:
    """Every configuration this module launches, for the static sm_80/sm_90 compile check."""
    signature = {"src": "*i16", "dst": "*i16", "total": "i64"}
    for prefix in ("size", "dst", "src"):
        for d in range(6):
            signature[f"{prefix}{d}"] = "i64"
    configs = []
    for pointer in ("*u8", "*i16", "*i32", "*i64"):
        for index_64 in (False, True):
            width = "i64" if index_64 else "i32"
            sig = {name: (width if kind == "i64" else kind) for name, kind in signature.items()}
            sig.update(src=pointer, dst=pointer, BLOCK="constexpr", INDEX_64="constexpr")
            configs.append(
                {
                    "kernel": _pixel_shuffle_kernel,
                    "signature": sig,
                    "constexprs": {"BLOCK": BLOCK_64 if index_64 else BLOCK, "INDEX_64": index_64},
                    "num_warps": NUM_WARPS,
                    "name": f"pixel_shuffle[{pointer[1:]},{width}]",
                }
            )
    return configs
