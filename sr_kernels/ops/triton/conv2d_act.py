"""Triton stride-1 'same' convolution with fused bias + activation (and optional pixel shuffle).

Work decomposition: implicit GEMM over NHWC images. A program computes BLOCK_M output pixels
(flattened n, h, w) x BLOCK_N output channels, fp32 accumulator:
* C_in >= 16: one loop over (tap, BLOCK_K block of C_in) steps (masked tail), so that with
  num_stages > 1 Triton prefetches the next steps' operands (cp.async) during this step's dot.
  Such flattened loops have miscompiled with 8 warps (pytorch/pytorch#173068): the tables use 4;
* C_in < 16 (EDSR's 3 -> C head, SRCNN's 1-channel 9x9 layer): K runs over the flattened
  (tap, channel) index in BLOCK_K = 32 steps, so 3 x 3 x 3 = 27 pads to 32 and 9 x 9 x 1 = 81 to
  96 instead of padding every tap's channels to 16;
* C_out < 16 (the tail C -> 3, SRCNN's last layer) is masked inside a BLOCK_N = 16 tile.
Padding: 'zeros' masks out-of-image taps; 'replicate' clamps the tap coordinates (clamped index
loads). Epilogue: + bias, ReLU or identity, one rounding to the storage dtype, one store.

The same kernel is the upsampler (``conv_pixel_shuffle``) with SHUFFLE_R = r: GEMM column
``j = s * C + c`` (s = i * r + j_sub) reads weight row ``c * r * r + s`` and stores to
``out[n, h*r + i, w*r + j_sub, c]`` -- pixel shuffle as a store-index permutation, so each
BLOCK_N column block writes BLOCK_N contiguous channels of one sub-pixel and the C*r*r
tensor is never written.

Bytes and FLOPs per output pixel (3x3, C_in = C_out = 64, bf16): 18 x 64^2 = 73.7 kFLOP; HBM
read 128 B + write 128 B -> 288 FLOP/B, at the bf16 ridge (295): these layers are balanced,
and like cuDNN's C = 64 conv (~24 % of peak, KERNEL_NOTES 1.2) limited in practice by operand
traffic through L1/L2 (tap re-reads of the input tile). Upsampler 64 -> 256 (x2): 295 kFLOP
per input pixel, 128 B read + 512 B written -> 461 FLOP/B, compute-side; against eager it saves
the C*r*r write + the shuffle's read and write (3 x 512 B per pixel). Head 3 -> 64 and tail
64 -> 3 and SRCNN's layers are HBM-bound (< 30 FLOP/B of useful work).

Accumulation: fp32 for every dtype; fp32 operands use "tf32x3" (near fp32; single-pass
TF32 is not offered, see `_conv_configs.allow_tf32`). Alignment: channel stride 1 for input,
weights and output (the launcher converts other layouts with one documented copy).

Registered as ``sr_kernels::conv2d_act_triton`` (custom_op + fake + autograd; the backward uses
``aten.convolution_backward``, with ``aten.replication_pad2d_backward`` for replicate padding).
"""

from __future__ import annotations

from typing import Any

import torch
import triton
import triton.language as tl

from .. import _layout, _trace
from . import _conv_configs as configs
from ._launch import aligned, cdiv, nhwc_strides, on_device

_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
KERNEL_SIZES = (1, 3, 5, 9)


def supports(meta: dict[str, Any]) -> str | None:
    if meta["dtype"] not in _DTYPES:
        return f"dtype {meta['dtype']} is not supported (float32, float16, bfloat16)"
    if meta["device"] == "cpu" and meta["dtype"] == torch.bfloat16:
        return "bfloat16 is not supported by the Triton interpreter"
    kernel_size = meta.get("kernel_size", 3)
    if kernel_size not in KERNEL_SIZES:
        return f"kernel size {kernel_size} is not compiled (supported: {KERNEL_SIZES})"
    return None


def _conv2d_act_kernel(
    x, w, b, out,
    NPIX, H, W, C_IN, C_OUT, C_FINAL, KSIZE, REPLICATE, RELU,
    sxn, sxh, sxw,
    swo, swh, sww,
    son, soh, sow,
    KS: tl.constexpr, SHUFFLE_R: tl.constexpr, FLAT_K: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    PRECISION: tl.constexpr,
):  # fmt: skip
    # KSIZE (runtime) is the kernel size; the per-size path (FLAT_K = False) also gets it as
    # the constexpr KS (the flat path is compiled once for every size, with KS = 0).
    # REPLICATE and RELU are runtime 0/1 flags: a select per tap / per output costs nothing
    # next to the MMA work and keeps the number of compiled variants down.
    pm = tl.program_id(0)
    pn = tl.program_id(1)
    m = pm * BLOCK_M + tl.arange(0, BLOCK_M)
    m_ok = m < NPIX
    hw = H * W
    image = m // hw
    rest = m % hw
    oh = rest // W
    ow = rest % W
    x_row = image.to(tl.int64) * sxn  # per-pixel image offset
    j = pn * BLOCK_N + tl.arange(0, BLOCK_N)
    j_ok = j < C_OUT
    if SHUFFLE_R == 1:
        co = j
    else:
        co = (j % C_FINAL) * (SHUFFLE_R * SHUFFLE_R) + j // C_FINAL  # weight row of column j
    ck = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    if FLAT_K:
        pad = KSIZE // 2
        k_total = KSIZE * KSIZE * C_IN
        for k0 in range(0, k_total, BLOCK_K):
            k = k0 + ck
            k_ok = k < k_total
            tap = k // C_IN
            ci = k % C_IN
            kh = tap // KSIZE
            kw = tap % KSIZE
            iy = oh[:, None] + (kh[None, :] - pad)
            ix = ow[:, None] + (kw[None, :] - pad)
            inside = (iy >= 0) & (iy < H) & (ix >= 0) & (ix < W)
            ok = m_ok[:, None] & k_ok[None, :] & (inside | (REPLICATE != 0))
            iy = tl.minimum(tl.maximum(iy, 0), H - 1)  # no-op for the taps zero padding keeps
            ix = tl.minimum(tl.maximum(ix, 0), W - 1)
            offsets = x_row[:, None] + iy.to(tl.int64) * sxh + ix.to(tl.int64) * sxw + ci[None, :]
            a = tl.load(x + offsets, mask=ok, other=0.0)
            w_offsets = co[None, :] * swo + (kh * swh + kw * sww + ci)[:, None]
            bt = tl.load(w + w_offsets, mask=k_ok[:, None] & j_ok[None, :], other=0.0)
            acc = tl.dot(a, bt, acc, input_precision=PRECISION)
    else:
        PAD: tl.constexpr = KS // 2
        k_steps = tl.cdiv(C_IN, BLOCK_K)
        # One loop over (tap, K block): with num_stages > 1 Triton prefetches the operands of
        # the next steps (cp.async) while this step's dot runs.
        for step_k in range(0, KS * KS * k_steps):
            tap = step_k // k_steps
            ci = (step_k - tap * k_steps) * BLOCK_K + ck
            ci_ok = ci < C_IN
            kh = tap // KS
            kw = tap - kh * KS
            iy = oh + (kh - PAD)
            ix = ow + (kw - PAD)
            inside = (iy >= 0) & (iy < H) & (ix >= 0) & (ix < W)
            ok = m_ok & (inside | (REPLICATE != 0))
            iy = tl.minimum(tl.maximum(iy, 0), H - 1)
            ix = tl.minimum(tl.maximum(ix, 0), W - 1)
            row = x_row + iy.to(tl.int64) * sxh + ix.to(tl.int64) * sxw
            a = tl.load(
                x + row[:, None] + ci[None, :], mask=ok[:, None] & ci_ok[None, :], other=0.0
            )
            bt = tl.load(
                w + kh * swh + kw * sww + co[None, :] * swo + ci[:, None],
                mask=ci_ok[:, None] & j_ok[None, :],
                other=0.0,
            )
            acc = tl.dot(a, bt, acc, input_precision=PRECISION)
    bias = tl.load(b + co, mask=j_ok, other=0.0).to(tl.float32)
    acc = acc + bias[None, :]
    acc = tl.where((RELU != 0) & (acc < 0.0), 0.0, acc)
    if SHUFFLE_R == 1:
        out_offsets = (image.to(tl.int64) * son + oh.to(tl.int64) * soh + ow.to(tl.int64) * sow)[
            :, None
        ] + j[None, :]
    else:
        s = j // C_FINAL
        c = j % C_FINAL
        sub_y = s // SHUFFLE_R
        sub_x = s % SHUFFLE_R
        out_offsets = (
            image.to(tl.int64)[:, None] * son
            + (oh * SHUFFLE_R)[:, None].to(tl.int64) * soh
            + (ow * SHUFFLE_R)[:, None].to(tl.int64) * sow
            + (sub_y * soh + sub_x * sow + c)[None, :]
        )
    tl.store(out + out_offsets, acc.to(out.dtype.element_ty), mask=m_ok[:, None] & j_ok[None, :])


# The kernel body is compiled as two jit functions that differ only in which integer arguments
# Triton may specialise by value, so every launch compiles a variant that `aot_configs()` lists:
# * aligned (C_in, C_out and the shuffled C all multiples of 16, per-size path): channel counts
#   and strides are multiples of 16 (vectorised channel loads and stores);
# * unaligned (3 or 1 channels anywhere, or the flat path): no integer argument is specialised.
# Pointers are always 16-byte aligned (the launcher copies a misaligned tensor).
_IMAGE_ARGS = ("NPIX", "H", "W", "KSIZE", "REPLICATE", "RELU")
_CHANNEL_ARGS = (
    "C_IN", "C_OUT", "C_FINAL", "sxn", "sxh", "sxw", "swo", "swh", "sww", "son", "soh", "sow",
)  # fmt: skip
POINTER_ARGS = ("x", "w", "b", "out")
KERNELS = {
    True: triton.jit(do_not_specialize=_IMAGE_ARGS)(_conv2d_act_kernel),
    False: triton.jit(do_not_specialize=_IMAGE_ARGS + _CHANNEL_ARGS)(_conv2d_act_kernel),
}


def divisible_args(aligned: bool) -> list[str]:
    """Arguments that are multiples of 16 in every launch of the `aligned` variant."""
    return list(POINTER_ARGS + (_CHANNEL_ARGS if aligned else ()))


def output_shape(x: torch.Tensor, w: torch.Tensor, shuffle_r: int) -> tuple[int, int, int, int]:
    n, _, h, wd = x.shape
    c = w.shape[0] // (shuffle_r * shuffle_r)
    return (n, c, h * shuffle_r, wd * shuffle_r)


def launch(
    x: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor,
    *,
    replicate: bool,
    relu: bool,
    shuffle_r: int,
    allow_tf32: bool,
) -> torch.Tensor:
    """Run the kernel on NHWC copies/views of x and w; returns the input's memory format."""
    n, c_in, h, wd = x.shape
    c_out, _, ks, _ = w.shape
    xc = aligned(x.contiguous(memory_format=torch.channels_last))
    shape = output_shape(x, w, shuffle_r)
    out = torch.empty(shape, dtype=x.dtype, device=x.device, memory_format=torch.channels_last)
    if out.numel() > 0:
        wc = aligned(w.contiguous(memory_format=torch.channels_last))
        arch = configs.arch_key(x.device)
        cfg = configs.conv_config(c_in, c_out, shape[1], ks, x.dtype, arch)
        npix = n * h * wd
        grid = (cdiv(npix, cfg.block_m), cdiv(c_out, cfg.block_n))
        with on_device(x):
            KERNELS[cfg.aligned][grid](
                xc, wc, aligned(b.contiguous()), out,
                npix, h, wd, c_in, c_out, shape[1], ks, int(replicate), int(relu),
                *nhwc_strides(xc), *nhwc_strides(wc), *nhwc_strides(out),
                KS=0 if cfg.flat_k else ks, SHUFFLE_R=shuffle_r, FLAT_K=cfg.flat_k,
                BLOCK_M=cfg.block_m, BLOCK_N=cfg.block_n, BLOCK_K=cfg.block_k,
                PRECISION=configs.precision(x.dtype, allow_tf32),
                num_warps=cfg.num_warps, num_stages=cfg.num_stages,
            )  # fmt: skip
    return _layout.as_format_of(out, x)


@torch.library.custom_op("sr_kernels::conv2d_act_triton", mutates_args=())
def conv2d_act_triton(
    x: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor,
    padding_mode: str,
    activation: str,
    allow_tf32: bool,
) -> torch.Tensor:
    out = launch(
        x,
        w,
        b,
        replicate=padding_mode == "replicate",
        relu=activation == "relu",
        shuffle_r=1,
        allow_tf32=allow_tf32,
    )
    _trace.record("conv2d_act", "triton")
    return out


@conv2d_act_triton.register_fake
def _(x, w, b, padding_mode, activation, allow_tf32):
    return x.new_empty(output_shape(x, w, 1)).contiguous(memory_format=_layout.memory_format(x))


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
    x, w, b, padding_mode, activation, _ = inputs
    ctx.save_for_backward(x, w, output if activation == "relu" else None)
    ctx.padding_mode = padding_mode


def _backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
    x, w, out = ctx.saved_tensors
    if out is not None:  # ReLU's own backward: zero where out <= 0 (a NaN output passes)
        grad = torch.ops.aten.threshold_backward.default(grad, out, 0)
    pad = w.shape[-1] // 2
    mask = list(ctx.needs_input_grad[:3])  # only what autograd asks for
    if ctx.padding_mode == "replicate":
        padded = torch.ops.aten.replication_pad2d(x, [pad, pad, pad, pad])
        g_padded, g_w, g_b = torch.ops.aten.convolution_backward(
            grad, padded, w, [w.shape[0]], [1, 1], [0, 0], [1, 1], False, [0, 0], 1, mask
        )  # fmt: skip
        g_x = None
        if mask[0]:
            g_x = torch.ops.aten.replication_pad2d_backward(g_padded, x, [pad, pad, pad, pad])
    else:
        g_x, g_w, g_b = torch.ops.aten.convolution_backward(
            grad, x, w, [w.shape[0]], [1, 1], [pad, pad], [1, 1], False, [0, 0], 1, mask
        )  # fmt: skip
    return g_x, g_w, g_b, None, None, None


conv2d_act_triton.register_autograd(_backward, setup_context=_setup_context)


def conv2d_act(
    x: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor,
    padding_mode: str = "zeros",
    activation: str = "relu",
) -> torch.Tensor:
    return conv2d_act_triton(x, w, b, padding_mode, activation, configs.allow_tf32())


def kernel_signature(pointer: str) -> dict[str, str]:
    signature = {name: pointer for name in ("x", "w", "b", "out")}
    for name in ("NPIX", "H", "W", "C_IN", "C_OUT", "C_FINAL", "KSIZE", "REPLICATE", "RELU"):
        signature[name] = "i32"
    for name in ("sxn", "sxh", "sxw", "swo", "swh", "sww", "son", "soh", "sow"):
        signature[name] = "i32"
    return signature


POINTERS = {torch.float32: "*fp32", torch.float16: "*fp16", torch.bfloat16: "*bf16"}


def aot_entry(
    dtype: torch.dtype, cfg: Any, ks: int, shuffle_r: int, precision: str, name: str
) -> dict[str, Any]:
    """One aot_configs() entry of the kernel (shared with conv_pixel_shuffle)."""
    constexprs = {
        "KS": 0 if cfg.flat_k else ks,
        "SHUFFLE_R": shuffle_r,
        "FLAT_K": cfg.flat_k,
        "BLOCK_M": cfg.block_m,
        "BLOCK_N": cfg.block_n,
        "BLOCK_K": cfg.block_k,
        "PRECISION": precision,
    }
    signature = kernel_signature(POINTERS[dtype])
    signature.update({key: "constexpr" for key in constexprs})
    return {
        "kernel": KERNELS[cfg.aligned],
        "signature": signature,
        "constexprs": constexprs,
        "divisible_by_16": divisible_args(cfg.aligned),
        "num_warps": cfg.num_warps,
        "num_stages": cfg.num_stages,
        "name": name,
    }


def aot_configs() -> list[dict[str, Any]]:
    """Every configuration this module launches, for the static sm_80/sm_90 compile check.

    Every tile config `_conv_configs.conv_config` returns (both archs' tables), for each kernel
    size the per-size path is used with (the flat path takes the size at run time), each
    fp32 precision. Padding mode and activation are run-time flags.
    """
    result = []
    for dtype, ks, cfg in configs.conv_configs():
        for precision in configs.precisions(dtype):
            name = f"conv2d_act[{POINTERS[dtype][1:]},k={ks},{precision},{cfg}]"
            result.append(aot_entry(dtype, cfg, ks, 1, precision, name))
    return result
