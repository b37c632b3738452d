"""Shared argument checks of the conv ops: residual_block, conv_pixel_shuffle, conv2d_act."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import torch

from . import _validate

FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


def _cpu_or_cuda_autocast() -> bool:
    """`_any_autocast` where torch lacks its quick test: the two devices our ops run on."""
    return torch.is_autocast_enabled("cpu") or torch.is_autocast_enabled("cuda")


# Whether any autocast region is open, on any device: torch's own quick test (nn.RNN calls it),
# ~0.2 us, where ``torch.is_autocast_enabled(device)`` parses the device string (~0.8 us; ~20
# us right after a large CPU op flushed the caches). Asked of every device at once it is
# stricter than needed, which only sends the rare call to the detailed checks.
_any_autocast: Callable[[], bool] = (
    getattr(torch._C, "_is_any_autocast_enabled", None) or _cpu_or_cuda_autocast
)


def image(x: object) -> torch.Tensor:
    """A 4-D float image (N, C, H, W) with C, H, W >= 1; N = 0 (an empty batch) is allowed.

    Zero channels or an empty plane are refused here, before dispatch, so that every op and
    every backend reports them the same way (F.conv2d would return a wrongly shaped result
    for C = 0 and fail with an internal padding message for H = 0 or W = 0).
    """
    x = _validate.tensor(x, "x")
    _validate.ndim(x, "x", 4, "(N, C, H, W)")
    _validate.dtype(x, "x", FLOAT_DTYPES)
    if x.shape[1] < 1:
        raise ValueError(f"x must have at least one channel, got shape {tuple(x.shape)}")
    if x.shape[2] < 1 or x.shape[3] < 1:
        raise ValueError(f"x must have height and width >= 1, got shape {tuple(x.shape)}")
    return x


def autocast(x: torch.Tensor, *tensors: object) -> tuple[Any, ...]:
    """x and `tensors` as ``torch.autocast`` casts the arguments of ``F.conv2d``: inside an
    autocast region for x's device, floating tensors other than float64 in the autocast dtype
    (differentiable casts: gradients reach float32 parameters in float32); else unchanged.
    Non-tensors are passed through for the checks that follow to name."""
    device = _autocast_device(x)
    if not torch.is_autocast_enabled(device):
        return (x, *tensors)
    dtype = torch.get_autocast_dtype(device)
    return tuple(
        t.to(dtype)
        if isinstance(t, torch.Tensor) and t.is_floating_point() and t.dtype != torch.float64
        else t
        for t in (x, *tensors)
    )


def _autocast_device(x: torch.Tensor) -> str:
    """The device kind whose autocast region applies to x."""
    return "cuda" if x.is_cuda else "cpu"


def parameter(t: object, name: str, shape: tuple[int, ...], what: str, x: torch.Tensor) -> None:
    """`t` is a tensor of exactly `shape` with x's dtype and device (`what` explains the shape)."""
    t = _validate.tensor(t, name)
    if tuple(t.shape) != shape:
        raise ValueError(f"{name} must have shape {what} = {shape}, got {tuple(t.shape)}")
    if t.dtype != x.dtype:
        autocasting = torch.is_autocast_enabled(_autocast_device(x))
        hint = (
            " (torch.autocast casts the other floating dtypes, never float64)"
            if autocasting and torch.float64 in (t.dtype, x.dtype)
            else ""
        )
        raise TypeError(
            f"{name} has dtype {_validate.dtype_name(t.dtype)} but x has "
            f"{_validate.dtype_name(x.dtype)}; weights and biases must have x's dtype{hint}"
        )
    if t.device != x.device:
        raise ValueError(f"{name} is on {t.device} but x is on {x.device}")


def weight(w: object, name: str, x: torch.Tensor) -> torch.Tensor:
    """A 4-D weight (C_out, C_in, k, k) with an odd square kernel and C_in = x's channels."""
    w = _validate.tensor(w, name)
    _validate.ndim(w, name, 4, "(C_out, C_in, k, k)")
    k = w.shape[-1]
    if w.shape[-2] != k or k % 2 == 0:
        raise ValueError(
            f"{name} must have an odd square kernel (C_out, C_in, k, k), got {tuple(w.shape)}"
        )
    parameter(w, name, (w.shape[0], x.shape[1], k, k), "(C_out, C_in = x's channels, k, k)", x)
    if w.shape[0] < 1:
        raise ValueError(
            f"{name} must have at least one output channel (C_out >= 1), got shape {tuple(w.shape)}"
        )
    return w


def plain_conv_args(x: object, w: object, b: object) -> tuple[int, int, int] | None:
    """(C_in, C_out, k) for the common valid case of a (x, w, b) convolution, decided in one go:
    x a dense 4-D float image with C, H, W >= 1; w (C_out >= 1, C, k, k) with k odd; b (C_out,);
    all three of x's dtype and device; no autocast region open. Everything `conv_args` would
    accept unchanged, so a caller may skip it.

    None only means "check in detail": those functions then name what is wrong. On a CPU whose
    caches the previous layer's tensors flushed, each Python call costs microseconds: this
    saved ~15 us of the EDSR head's (3 -> 64, 16 x 48 x 48, ~1 ms) overhead over nn.Conv2d
    (2-core machine).
    """
    if not (
        isinstance(x, torch.Tensor)
        and isinstance(w, torch.Tensor)
        and isinstance(b, torch.Tensor)
        and x.layout == torch.strided
        and w.layout == torch.strided
        and b.layout == torch.strided
        and not (x.is_nested or w.is_nested or b.is_nested)
        and x.dim() == 4
        and w.dim() == 4
        and b.dim() == 1
        and x.dtype in FLOAT_DTYPES
        and w.dtype == x.dtype
        and b.dtype == x.dtype
        and w.device == x.device
        and b.device == x.device
        and not _any_autocast()
    ):
        return None
    _, c, h, width = x.shape
    c_out, c_in, k, k_w = w.shape
    if (
        c >= 1 and h >= 1 and width >= 1 and c_in == c and k == k_w and k % 2 == 1
        and c_out >= 1 and b.shape[0] == c_out
    ):  # fmt: skip
        return c, c_out, k
    return None


def plain_block_args(x: object, w1: object, b1: object, w2: object, b2: object) -> int | None:
    """C for the common valid case of a residual block's tensors, decided in one go:
    `plain_conv_args` of (x, w1, b1) with w1 (C, C, 3, 3), and w2, b2 dense tensors of w1's and
    b1's shapes with x's dtype and device. Everything `block_args` would accept unchanged; None
    only means "check in detail".

    In a hot loop on the 2-core dev machine the detailed checks cost ~16 us a call, this ~10:
    host time that GPU blocks of tens of microseconds may wait for in a training step.
    """
    sizes = plain_conv_args(x, w1, b1)
    if sizes is None or sizes[1] != sizes[0] or sizes[2] != 3:
        return None
    # Tensors, as plain_conv_args found; cast for the type checker only.
    x, w1, b1 = cast(torch.Tensor, x), cast(torch.Tensor, w1), cast(torch.Tensor, b1)
    if (
        isinstance(w2, torch.Tensor)
        and isinstance(b2, torch.Tensor)
        and w2.layout == torch.strided
        and b2.layout == torch.strided
        and not (w2.is_nested or b2.is_nested)
        and w2.shape == w1.shape
        and b2.shape == b1.shape
        and w2.dtype == x.dtype
        and b2.dtype == x.dtype
        and w2.device == x.device
        and b2.device == x.device
    ):
        return sizes[0]
    return None


def plain_upsampler_args(x: object, w: object, b: object, r: object) -> tuple[int, int] | None:
    """(C_in, C*r*r) for the common valid case of conv_pixel_shuffle's arguments, decided in one
    go: `plain_conv_args` of (x, w, b) with a 3x3 w whose C_out is a multiple of r*r, and r the
    int 2 or 3. Everything `upsampler_args` would accept unchanged; None only means "check in
    detail" (a NumPy integer r, for one).

    Warm, on a tiny input (2-core dev machine): the op's cost over F.conv2d + F.pixel_shuffle
    fell from ~55 to ~35 us a call with this check.
    """
    sizes = plain_conv_args(x, w, b)
    if sizes is None or sizes[2] != 3 or type(r) is not int or r not in (2, 3):
        return None
    c_in, c_out, _ = sizes
    return (c_in, c_out) if c_out % (r * r) == 0 else None


def conv_args(x: object, w: object, b: object) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """conv2d_act's detailed checks: x an image, w (C_out >= 1, C_in = x's channels, k, k) with k
    odd, b (C_out,), all of x's dtype and device; returns the tensors as ``torch.autocast``
    casts them."""
    x_cast, w_cast, b_cast = autocast(image(x), w, b)
    w_cast = weight(w_cast, "w", x_cast)
    parameter(b_cast, "b", (w_cast.shape[0],), "(C_out,)", x_cast)
    return x_cast, w_cast, b_cast


def block_args(
    x: object, w1: object, b1: object, w2: object, b2: object
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """residual_block's detailed checks: x an image, w1 and w2 (C, C, 3, 3), b1 and b2 (C,),
    all of x's dtype and device; returns the tensors as ``torch.autocast`` casts them."""
    x_cast, w1_cast, b1_cast, w2_cast, b2_cast = autocast(image(x), w1, b1, w2, b2)
    c = x_cast.shape[1]
    for name, t in (("w1", w1_cast), ("w2", w2_cast)):
        parameter(t, name, (c, c, 3, 3), "(C, C, 3, 3) for x with C channels", x_cast)
    for name, t in (("b1", b1_cast), ("b2", b2_cast)):
        parameter(t, name, (c,), "(C,)", x_cast)
    return x_cast, w1_cast, b1_cast, w2_cast, b2_cast


def upsampler_args(
    x: object, w: object, b: object, r: object
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """conv_pixel_shuffle's detailed checks: x an image, r 2 or 3, w (C*r*r, C_in = x's
    channels, 3, 3) with C >= 1, b (C*r*r,), all of x's dtype and device; returns the tensors
    as ``torch.autocast`` casts them, and r as an int."""
    x_cast, w_cast, b_cast = autocast(image(x), w, b)
    r = _validate.positive_int(r, "r")
    if r not in (2, 3):
        raise ValueError(f"r must be 2 or 3, got {r}")
    w_cast = weight(w_cast, "w", x_cast)
    if w_cast.shape[-1] != 3 or w_cast.shape[0] % (r * r) != 0:
        raise ValueError(
            f"w must have shape (C*r*r, C_in, 3, 3) with r = {r}, got {tuple(w_cast.shape)}"
        )
    parameter(b_cast, "b", (w_cast.shape[0],), "(C*r*r,)", x_cast)
    return x_cast, w_cast, b_cast, r


def choice(value: object, name: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value
