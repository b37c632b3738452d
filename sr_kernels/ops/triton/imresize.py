"""Triton imresize: one table-driven kernel per pass (rows along H, then cols along W).

Work decomposition: each program computes BLOCK output elements of a pass in the output's
memory order (coalesced stores); each element loads its `taps` table entries (index, weight) and
gathers `taps` inputs along the resized axis. Bytes per output element: one store plus about
max(1, 1/scale) input elements from DRAM (neighbouring programs re-read the rest from L1/L2);
2 * taps FLOPs. Memory-bound on an H100.

Numerics: uint8 accumulates in float64 with float64 weights and rounds after each pass (round
half away from zero, clamped to 0..255: MATLAB on uint8); float64 in float64; float32/float16/
bfloat16 in float32 with float32 weights, intermediate float32. Tables come from
`sr_kernels.ops._cubic` (float64, cached per size/scale/edge and device).

Registered as `sr_kernels::imresize_triton` / `imresize_backward_triton` with
`torch.library.custom_op` (+ fake + autograd: the backward is the resize with transposed tables).
"""

from __future__ import annotations

import os
from typing import Any

import torch
import triton
import triton.language as tl

from .. import _cubic, _layout, _trace
from ._launch import cdiv, on_device

_DTYPES = (torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64)
# 4 outputs per thread: BLOCK 1024 (8 per thread, int64 offsets) spilled 8-16 bytes on sm_90
# with Triton 3.6 (the GPU validation machine's), though not with 3.8.
BLOCK = 512
NUM_WARPS = 4


def supports(meta: dict[str, Any]) -> str | None:
    if meta["dtype"] not in _DTYPES:
        return f"dtype {meta['dtype']} is not supported"
    if meta["dtype"] == torch.bfloat16 and os.environ.get("TRITON_INTERPRET", "0") == "1":
        return "bfloat16 arithmetic is not supported by the Triton interpreter"
    return None


@triton.jit
def _imresize_kernel(
    src,
    dst,
    index,
    weight,
    total,
    taps,
    size0, size1, size2, size3,
    dst0, dst1, dst2, dst3,
    src0, src1, src2, src3,
    AXIS: tl.constexpr,
    ROUND: tl.constexpr,
    BLOCK: tl.constexpr,
):  # fmt: skip
    offsets = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < total
    rest = offsets
    c3 = rest % size3
    rest = rest // size3
    c2 = rest % size2
    rest = rest // size2
    c1 = rest % size1
    c0 = rest // size1
    dst_offset = c0 * dst0 + c1 * dst1 + c2 * dst2 + c3 * dst3
    if AXIS == 0:
        position = c0
        base = c1 * src1 + c2 * src2 + c3 * src3
        step = src0
    elif AXIS == 1:
        position = c1
        base = c0 * src0 + c2 * src2 + c3 * src3
        step = src1
    elif AXIS == 2:
        position = c2
        base = c0 * src0 + c1 * src1 + c3 * src3
        step = src2
    else:
        position = c3
        base = c0 * src0 + c1 * src1 + c2 * src2
        step = src3
    row = position * taps
    acc = tl.zeros([BLOCK], dtype=weight.dtype.element_ty)
    for k in range(taps):
        i = tl.load(index + row + k, mask=mask, other=0)
        w = tl.load(weight + row + k, mask=mask, other=0.0)
        v = tl.load(src + base + i.to(tl.int64) * step, mask=mask, other=0)
        acc += w * v.to(weight.dtype.element_ty)
    if ROUND:  # MATLAB double -> uint8: clamp, round half away from zero
        acc = tl.minimum(tl.maximum(acc, 0.0), 255.0)
        whole = acc.to(tl.int32)
        whole += (acc - whole.to(acc.dtype) >= 0.5).to(tl.int32)
        tl.store(dst + dst_offset, whole.to(tl.uint8), mask=mask)
    else:
        tl.store(dst + dst_offset, acc.to(dst.dtype.element_ty), mask=mask)


_TABLES: dict[tuple[Any, ...], tuple[torch.Tensor, torch.Tensor]] = {}


def _table(
    in_len: int,
    out_len: int,
    scale: float,
    antialias: bool,
    edge: str,
    transposed: bool,
    weight_dtype: torch.dtype,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Device copies of one axis's table (index int32, weight), cached per device."""
    key = (in_len, out_len, scale, antialias, edge, transposed, weight_dtype, str(device))
    if key not in _TABLES:
        build = _cubic.transposed if transposed else _cubic.contributions
        index, weight = build(in_len, out_len, scale, antialias, edge)
        if len(_TABLES) > 512:
            _TABLES.clear()
        _TABLES[key] = (
            torch.tensor(index, dtype=torch.int32).to(device),
            torch.tensor(weight, dtype=torch.float64).to(weight_dtype).to(device),
        )
    return _TABLES[key]


def _mid_dtype(dtype: torch.dtype) -> torch.dtype:
    return dtype if dtype in (torch.uint8, torch.float64) else torch.float32


def _weight_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype in (torch.uint8, torch.float64) else torch.float32


def _order(out: torch.Tensor) -> list[int]:
    """Dims of `out` by decreasing stride (its memory order, outermost first; ties keep order)."""
    return sorted(range(4), key=lambda d: -out.stride(d))


def _pass(
    src: torch.Tensor,
    dst: torch.Tensor,
    axis: int,
    index: torch.Tensor,
    weight: torch.Tensor,
) -> None:
    order = _order(dst)
    total = dst.numel()
    if total == 0:
        return
    grid = (cdiv(total, BLOCK),)
    with on_device(dst):
        _imresize_kernel[grid](
            src,
            dst,
            index,
            weight,
            total,
            weight.shape[1],
            *[dst.shape[d] for d in order],
            *[dst.stride(d) for d in order],
            *[src.stride(d) for d in order],
            AXIS=order.index(axis),
            ROUND=src.dtype == torch.uint8,
            BLOCK=BLOCK,
            num_warps=NUM_WARPS,
            # float64 accumulation: products and sums rounded separately, as the reference
            # computes them, so uint8 results match it even on exact .5 ties.
            enable_fp_fusion=weight.dtype != torch.float64,
        )


def _resize(
    x: torch.Tensor,
    h: int,
    w: int,
    scale_h: float,
    scale_w: float,
    antialias: bool,
    edge: str,
    transposed: bool,
) -> torch.Tensor:
    """Forward (x -> (h, w)) or, transposed, the adjoint of the resize (h, w) -> x's size."""
    n, c, in_h, in_w = x.shape
    wdtype = _weight_dtype(x.dtype)
    if transposed:  # x is the gradient; (h, w) the size of the forward's input
        rows = _table(h, in_h, scale_h, antialias, edge, True, wdtype, x.device)
        cols = _table(w, in_w, scale_w, antialias, edge, True, wdtype, x.device)
    else:
        rows = _table(in_h, h, scale_h, antialias, edge, False, wdtype, x.device)
        cols = _table(in_w, w, scale_w, antialias, edge, False, wdtype, x.device)
    fmt = _layout.memory_format(x)
    out = torch.empty((n, c, h, w), dtype=x.dtype, device=x.device, memory_format=fmt)
    if out.numel() > 0:
        mid = torch.empty(
            (n, c, h, in_w), dtype=_mid_dtype(x.dtype), device=x.device, memory_format=fmt
        )
        _pass(x, mid, 2, *rows)
        _pass(mid, out, 3, *cols)
    _trace.record("imresize", "triton")
    return out


@torch.library.custom_op("sr_kernels::imresize_triton", mutates_args=())
def imresize_triton(
    x: torch.Tensor,
    out_h: int,
    out_w: int,
    scale_h: float,
    scale_w: float,
    antialias: bool,
    edge: str,
) -> torch.Tensor:
    return _resize(x, out_h, out_w, scale_h, scale_w, antialias, edge, transposed=False)


@torch.library.custom_op("sr_kernels::imresize_backward_triton", mutates_args=())
def imresize_backward_triton(
    grad: torch.Tensor,
    in_h: int,
    in_w: int,
    scale_h: float,
    scale_w: float,
    antialias: bool,
    edge: str,
) -> torch.Tensor:
    if grad.dtype == torch.uint8:
        raise TypeError("grad has dtype uint8; imresize is differentiable in float dtypes only")
    return _resize(grad, in_h, in_w, scale_h, scale_w, antialias, edge, transposed=True)


def _resized_like(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    return x.new_empty((x.shape[0], x.shape[1], h, w)).contiguous(
        memory_format=_layout.memory_format(x)
    )


@imresize_triton.register_fake
def _(x, out_h, out_w, scale_h, scale_w, antialias, edge):
    return _resized_like(x, out_h, out_w)


@imresize_backward_triton.register_fake
def _(grad, in_h, in_w, scale_h, scale_w, antialias, edge):
    return _resized_like(grad, in_h, in_w)


def _setup_forward(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
    x, _, _, ctx.scale_h, ctx.scale_w, ctx.antialias, ctx.edge = inputs
    ctx.size = (x.shape[2], x.shape[3])


def _setup_backward(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
    grad, _, _, ctx.scale_h, ctx.scale_w, ctx.antialias, ctx.edge = inputs
    ctx.size = (grad.shape[2], grad.shape[3])


def _forward_backward(ctx: Any, grad: torch.Tensor):
    args = (ctx.scale_h, ctx.scale_w, ctx.antialias, ctx.edge)
    return (imresize_backward_triton(grad, *ctx.size, *args),) + (None,) * 6


def _backward_backward(ctx: Any, grad: torch.Tensor):
    args = (ctx.scale_h, ctx.scale_w, ctx.antialias, ctx.edge)
    return (imresize_triton(grad, *ctx.size, *args),) + (None,) * 6


imresize_triton.register_autograd(_forward_backward, setup_context=_setup_forward)
imresize_backward_triton.register_autograd(_backward_backward, setup_context=_setup_backward)


def imresize(
    x: torch.Tensor,
    out_h: int,
    out_w: int,
    scale_h: float,
    scale_w: float,
    antialias: bool,
    edge: str,
) -> torch.Tensor:
    return imresize_triton(x, out_h, out_w, scale_h, scale_w, antialias, edge)


def aot_configs() -> list[dict[str, Any]]:
    """Every configuration this module launches, for the static sm_80/sm_90 compile check.

    Outputs (and intermediates) are always NCHW or NHWC, so the resized axis sits at memory
    position 2 (rows, NCHW) or 1 (rows, NHWC) and 3 (cols, NCHW) or 2 (cols, NHWC).
    """
    pointer = {
        torch.uint8: "*u8",
        torch.float16: "*fp16",
        torch.bfloat16: "*bf16",
        torch.float32: "*fp32",
        torch.float64: "*fp64",
    }
    configs = []
    for dtype in _DTYPES:
        mid = _mid_dtype(dtype)
        wptr = pointer[_weight_dtype(dtype)]
        passes = [("rows", dtype, mid, (1, 2)), ("cols", mid, dtype, (2, 3))]
        for name, src, dst, axes in passes:
            src_name, dst_name = pointer[src][1:], pointer[dst][1:]
            for axis in axes:
                signature = {
                    "src": pointer[src],
                    "dst": pointer[dst],
                    "index": "*i32",
                    "weight": wptr,
                    "total": "i64",
                    "taps": "i32",
                }
                for prefix in ("size", "dst", "src"):
                    for d in range(4):
                        signature[f"{prefix}{d}"] = "i64"
                signature.update(AXIS="constexpr", ROUND="constexpr", BLOCK="constexpr")
                configs.append(
                    {
                        "kernel": _imresize_kernel,
                        "signature": signature,
                        "constexprs": {
                            "AXIS": axis,
                            "ROUND": src == torch.uint8,
                            "BLOCK": BLOCK,
                        },
                        "num_warps": NUM_WARPS,
                        "name": f"imresize_{name}[{src_name}->{dst_name},axis{axis}]",
                    }
                )
    return configs
