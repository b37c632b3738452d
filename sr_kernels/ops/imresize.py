"""Public MATLAB-exact bicubic resize (`imresize`) and the LR-generation helpers built on it."""

from __future__ import annotations

import math
import operator
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import torch

from . import _cubic, _layout, _registry, _validate

if TYPE_CHECKING:
    from PIL import Image

SUPPORTED_DTYPES = (torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64)
EDGES = _cubic.EDGES

_registry.register_op(
    "imresize",
    {
        "reference": "sr_kernels.ops.reference.imresize",
        "triton": "sr_kernels.ops.triton.imresize",
        "cpu": "sr_kernels.ops._ext.imresize",
        "cuda": "sr_kernels.ops._ext.imresize",
    },
)


# The weight table of an axis holds out_len x taps entries, taps = ceil(4 / scale) + 2 when an
# antialiased downscale stretches the kernel (a scale of 1e-9 asked for a 32 GB table), and the
# kernels index an axis with int32. Same limits in python/ops/imresize.cpp (direct op calls).
MAX_TABLE_ENTRIES = 2**28
MAX_AXIS_LENGTH = 2**31 - 1
# A resize's table needs at most ~8 (in_len + out_len) entries (4 in_len for an antialiased
# downscale to 2 or more pixels, 6 out_len for an upscale) unless an antialiased downscale to
# one pixel stretches its kernel far past the axis (imresize(4 x 4 image, 3e-8) built 1.3e8
# entries: 7.6 s, 3.3 GB). Tables past this and past SMALL_TABLE_ENTRIES are refused.
SMALL_TABLE_ENTRIES = 2**20


def table_limit(in_len: int, out_len: int) -> int:
    """The most weight-table entries an axis in_len -> out_len may take."""
    return min(MAX_TABLE_ENTRIES, max(SMALL_TABLE_ENTRIES, 8 * (in_len + out_len) + 64))


def _check_axis(in_len: int, out_len: int, scale: float, antialias: bool, axis: str) -> None:
    if in_len > MAX_AXIS_LENGTH:
        raise ValueError(f"x has {axis} {in_len}; imresize takes at most 2**31 - 1 per axis")
    if out_len > MAX_AXIS_LENGTH:
        raise ValueError(
            f"scale/size give an output {axis} of {out_len}; imresize makes at most 2**31 - 1"
        )
    entries = _taps(scale, antialias) * out_len
    limit = table_limit(in_len, out_len)
    if entries > limit:
        raise ValueError(
            f"scale/size: resizing the {axis} {in_len} -> {out_len} (scale {scale:g}) needs a "
            f"weight table of {entries} entries; imresize builds at most {limit} for this axis "
            "(min(2**28, max(2**20, 8 (in + out) + 64)))"
        )


def _positive_scale(value: object, name: str) -> float:
    if value is None:
        raise TypeError(
            f"{name} must be a real number, got None (None, keeping the aspect ratio, is for "
            "size, not scale)"
        )
    return _validate.positive_finite(value, name)


def _sequence(value: object) -> object:
    """A 1-D NumPy array or tensor (sizes computed with NumPy or torch, e.g.
    ``np.array(img.shape[:2]) // 4``) as a list of Python numbers; anything else as it is."""
    if isinstance(value, (np.ndarray, torch.Tensor)) and value.ndim == 1:
        return value.tolist()
    return value


def _pair(value: object, name: str) -> tuple[Any, Any]:
    value = _sequence(value)
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be a number or a pair (height, width), got {value!r}")
        return value[0], value[1]
    return value, value


def resolve_size(
    in_h: int,
    in_w: int,
    scale: float | Sequence[float] | None,
    size: Sequence[int | None] | None,
) -> tuple[int, int, float, float]:
    """(out_h, out_w, scale_h, scale_w) as MATLAB derives them from a scale or an output size.

    With a scale: output ``ceil(in * scale)`` per axis and that scale. With a size: that size and
    ``scale = out / in`` per axis. One size may be None (MATLAB's NaN): it keeps the aspect ratio,
    ``ceil(other_out * in / other_in)``, and both axes take the given axis's scale.
    """
    if (scale is None) == (size is None):
        raise ValueError("give exactly one of scale and size (got both or neither)")
    if scale is not None:
        given = _sequence(scale)
        raw_h, raw_w = _pair(given, "scale")
        two = isinstance(given, (tuple, list))  # errors name the element
        scale_h = _positive_scale(raw_h, "scale[0]" if two else "scale")
        scale_w = _positive_scale(raw_w, "scale[1]" if two else "scale")
        for in_len, value, axis in ((in_h, scale_h, "height"), (in_w, scale_w, "width")):
            # in * scale sizes the output and 4 / scale the antialiased kernel: both must be
            # finite floats (1e308 or a subnormal 1e-310 would overflow them).
            if not (abs(in_len * value) < math.inf and abs(4.0 / value) < math.inf):
                raise ValueError(
                    f"scale {value:g} is out of range for the {axis} {in_len}: the output size "
                    "in * scale and the kernel width 4 / scale must be finite"
                )
        return (
            _cubic.output_length(in_h, scale_h),
            _cubic.output_length(in_w, scale_w),
            scale_h,
            scale_w,
        )
    pair = _sequence(size)
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise ValueError(f"size must be a pair (out_height, out_width), got {size!r}")
    if pair[0] is None and pair[1] is None:
        raise ValueError("size must give out_height or out_width (or both), got (None, None)")
    if pair[0] is None:
        out_w = _validate.positive_int(pair[1], "size[1]")
        return math.ceil(out_w * in_h / in_w), out_w, out_w / in_w, out_w / in_w
    out_h = _validate.positive_int(pair[0], "size[0]")
    if pair[1] is None:
        return out_h, math.ceil(out_h * in_w / in_h), out_h / in_h, out_h / in_h
    out_w = _validate.positive_int(pair[1], "size[1]")
    return out_h, out_w, out_h / in_h, out_w / in_w


def imresize(
    x: torch.Tensor,
    scale: float | Sequence[float] | None = None,
    size: Sequence[int | None] | None = None,
    *,
    antialias: bool = True,
    edge: str = "mirror",
) -> torch.Tensor:
    """Bicubic resize exactly as MATLAB's ``imresize(x, scale, 'bicubic')``.

    Semantics (checked bit for bit against the MATLAB-made Set5 LR files):

    * Keys cubic kernel, a = -0.5; when downscaling with ``antialias`` the kernel is stretched
      by 1/scale (width 4/scale); output pixel x (1-based) samples
      ``u = x/scale + 0.5(1 - 1/scale)``; weights are normalised per output pixel.
    * The axis with the smaller scale is resized first, as MATLAB does (a stable sort of the
      two scales: height first when they are equal, e.g. for every scalar ``scale``). The order
      shows in uint8 results, which are rounded between the passes.
    * uint8 input: the intermediate is rounded to uint8 between the passes (round half away from
      zero, clamped to 0..255) and the output is uint8, as MATLAB does on uint8 images.
      Float input: no intermediate rounding; the output has the input's dtype.

    Args:
        x: (N, C, H, W) image batch, any strides (NCHW or channels_last).
        scale: scale factor (> 0), or a pair (scale_h, scale_w). Output size ``ceil(in * scale)``
            in float64, as MATLAB for a double scale: a scale rounded to float32 can give one
            pixel more (``np.float32(1 / 3)`` is 0.33333334, and ``ceil(12 * 0.33333334)`` is
            5, not 4); pass ``size`` where the output size matters.
        size: output size (out_h, out_w) instead of a scale; the scale is then ``out / in``.
            One of them may be None (MATLAB's NaN): computed to keep the aspect ratio, with the
            other axis's scale for both.
        antialias: stretch the kernel when downscaling (MATLAB's default ``true``).
        edge: out-of-range taps: ``"mirror"`` (MATLAB, indices ``[1:n, n:-1:1]``; the EDSR
            benchmark pack) or ``"clamp"`` (replicate the border; the SelfExSR / RCAN packs).

    Returns:
        (N, C, out_h, out_w) tensor of x's dtype, channels_last if x is channels_last.

    Dtypes: uint8 (exact: float64 accumulation on every backend), float16, bfloat16, float32
    (float32 accumulation in the compiled and Triton kernels: a sum that overflows float32, e.g.
    around alternating +-3e38, can come out NaN where the float64 reference gives +-inf),
    float64.
    Backends: cuda, cpu (OpenMP), triton, reference (float64, any device).
    Autograd: differentiable in float dtypes on every backend (the backward is the transposed
    resize with the same weights); uint8 is not differentiable.

    Raises:
        TypeError: x is not a tensor or has an unsupported dtype; scale is not a number; a
            size is not an integer.
        ValueError: x is not 4-D or has H or W of 0, scale <= 0 or so large or small that
            in * scale or 4 / scale overflows, both or neither of scale and size, a size
            that is not a pair or < 1, an unknown edge, or a resize past the limits: 2**31 - 1
            pixels per axis in and out, min(2**28, max(2**20, 8 (in_len + out_len) + 64))
            entries in an axis's weight table (out_len x taps; taps ~ 4 / scale when
            downscaling with antialias: only a downscale to one pixel by far less than
            1 / in_len reaches it).
    """
    _validate.tensor(x, "x")
    _validate.ndim(x, "x", 4, "(N, C, H, W)")
    _validate.dtype(x, "x", SUPPORTED_DTYPES)
    if edge not in EDGES:
        raise ValueError(f"edge must be one of {EDGES}, got {edge!r}")
    antialias = _validate.flag(antialias, "antialias")
    # operator.index: under torch.compile with dynamic shapes, specialise on the size (with a
    # guard); the weight tables depend on it.
    in_h, in_w = operator.index(x.shape[2]), operator.index(x.shape[3])
    if in_h < 1 or in_w < 1:
        raise ValueError(f"x must have height and width >= 1, got shape {tuple(x.shape)}")
    out_h, out_w, scale_h, scale_w = resolve_size(in_h, in_w, scale, size)
    _check_axis(in_h, out_h, scale_h, antialias, "height")
    _check_axis(in_w, out_w, scale_w, antialias, "width")
    args = (out_h, out_w, scale_h, scale_w, antialias, edge)
    taps = max(
        _most_taps(in_h, out_h, scale_h, antialias), _most_taps(in_w, out_w, scale_w, antialias)
    )
    if x.dtype == torch.float32 and taps > _cubic.MAX_FLOAT32_TAPS:
        # Too many taps for float32 sums (see _cubic.MAX_FLOAT32_TAPS): every backend resizes
        # (and differentiates) in float64, rounded once to float32.
        return _dispatch(x.double(), *args).float()
    return _dispatch(x, *args)


def _taps(scale: float, antialias: bool) -> int:
    """Taps per output of an axis's weight table (as the tables count them: the kernel width,
    4 or 4 / scale when an antialiased downscale stretches it, rounded up, + 2)."""
    width = 4.0 / scale if antialias and scale < 1.0 else 4.0
    return math.ceil(width) + 2


def _most_taps(in_len: int, out_len: int, scale: float, antialias: bool) -> int:
    """Taps per output of the axis's table, or per input of its adjoint (the backward), which
    ever is more (the adjoint's: ~ taps x out / in, a x1000 upscale's ~6000)."""
    taps = _taps(scale, antialias)
    return max(taps, math.ceil(taps * out_len / in_len) + 1)


def _dispatch(
    x: torch.Tensor,
    out_h: int,
    out_w: int,
    scale_h: float,
    scale_w: float,
    antialias: bool,
    edge: str,
) -> torch.Tensor:
    """The registry's imresize of checked arguments, height first (see imresize)."""
    # Downscaling (wide antialiased kernels) and upscaling (4 taps) are timed apart: which
    # backend is faster may differ (the measured order, `sr-kernels tune`).
    down = min(scale_h, scale_w) < 1.0
    if scale_w < scale_h:
        # Width first: every backend runs the height pass first, so it resizes the transposed
        # image. Transposed copies in and out in x's memory format: the kernels accept the
        # transposed view too, but read it with strided loads (CPU, 2040x1356 RGB uint8 at
        # (1/2, 1/4): 15.7 ms through the view, 6.4 ms with the copies, 2.6 ms height first).
        fmt = _layout.memory_format(x)
        xt = x.transpose(2, 3).contiguous(memory_format=fmt)
        args = (out_w, out_h, scale_w, scale_h, antialias, edge)
        yt = _registry.dispatch("imresize", _registry.tensor_meta(xt, downscale=down), xt, *args)
        return yt.transpose(2, 3).contiguous(memory_format=fmt)
    meta = _registry.tensor_meta(x, downscale=down)
    return _registry.dispatch("imresize", meta, x, out_h, out_w, scale_h, scale_w, antialias, edge)


# ---------------------------------------------------------------------------------------------
# NumPy (H, W[, C]) arrays and PIL images.

_Image = TypeVar("_Image", torch.Tensor, np.ndarray, "Image.Image")


_ARRAY_DTYPES = ("uint8", "float16", "float32", "float64")


def _to_tensor(array: np.ndarray) -> tuple[torch.Tensor, bool]:
    # C-contiguous and writable (torch warns on read-only arrays, e.g. np.asarray(PIL image)).
    # Native byte order too: torch.from_numpy rejects big-endian arrays (FITS, some TIFFs).
    array = np.require(array, dtype=array.dtype.newbyteorder("="), requirements=["C", "W"])
    if array.ndim == 2:
        return torch.from_numpy(array)[None, None], True
    return torch.from_numpy(array).permute(2, 0, 1)[None], False  # channels_last view, no copy


def imresize_array(
    image: np.ndarray,
    scale: float | Sequence[float] | None = None,
    size: Sequence[int | None] | None = None,
    *,
    antialias: bool = True,
    edge: str = "mirror",
) -> np.ndarray:
    """`imresize` on a NumPy (H, W) or (H, W, C) array; returns an array of the same dtype.

    `size` is (out_h, out_w). Supported dtypes: uint8, float16, float32, float64. An array that
    looks (C, H, W) (PyTorch's layout: first axis at most 4, last axis more than 4) is resized
    as (H, W, C) with a warning.
    """
    _warn_if_channels_first(image, "imresize_array")
    return _resize_array(image, scale, size, antialias, edge)


def _resize_array(
    image: np.ndarray,
    scale: float | Sequence[float] | None,
    size: Sequence[int | None] | None,
    antialias: bool,
    edge: str,
) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy.ndarray, got {type(image).__name__}")
    # Checked here so that errors name the caller's array, not the (1, C, H, W) view of it.
    h, w = _height_width(image)
    if h < 1 or w < 1:
        raise ValueError(f"image must have height and width >= 1, got shape {image.shape}")
    if image.dtype.name not in _ARRAY_DTYPES:
        names = ", ".join(_ARRAY_DTYPES)
        raise TypeError(f"image has dtype {image.dtype.name}; expected one of {names}")
    x, gray = _to_tensor(image)
    y = imresize(x, scale, size, antialias=antialias, edge=edge)
    y = y[0, 0] if gray else y[0].permute(1, 2, 0)
    return y.contiguous().numpy()


def _warn_if_channels_first(image: object, function: str) -> None:
    """Warn about a NumPy array that looks (C, H, W) where (H, W, C) is expected, or a tensor
    that looks (H, W, C) where (..., H, W) is expected (torch.from_numpy of a NumPy or PIL
    image): resized or cropped as given, it comes back silently wrong (a channel cropped away,
    or a few pixels high with many channels)."""
    if (
        isinstance(image, torch.Tensor)
        and image.dim() == 3
        and image.shape[2] <= 4 < image.shape[0]
    ):
        h, w, c = image.shape
        warnings.warn(
            f"image has shape {tuple(image.shape)}, which looks like (H, W, C); {function} takes "
            f"tensors as (..., H, W) and treats this one as {h} planes of {w}x{c} pixels (use "
            "image.permute(2, 0, 1) for a channels-last tensor)",
            stacklevel=3,
        )
    if isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[0] <= 4 < image.shape[2]:
        h, w, c = image.shape
        warnings.warn(
            f"image has shape {image.shape}, which looks like (C, H, W); {function} takes "
            f"(H, W, C) arrays and treats this one as {h}x{w} pixels with {c} channels (use "
            "image.transpose(1, 2, 0) for a channels-first array)",
            stacklevel=3,
        )


def imresize_pil(
    image: Image.Image,
    scale: float | Sequence[float] | None = None,
    size: Sequence[int | None] | None = None,
    *,
    antialias: bool = True,
    edge: str = "mirror",
) -> Image.Image:
    """`imresize` on a PIL image (modes L, RGB, RGBA: uint8); `size` is (out_h, out_w).

    RGBA: the four channels are resized independently, as MATLAB's imresize resizes an
    H x W x 4 array; alpha is not premultiplied (Pillow's resize premultiplies), so the colour
    of transparent pixels bleeds into visible neighbours. Premultiply first where that matters.
    """
    from PIL import Image

    if not isinstance(image, Image.Image):
        raise TypeError(f"image must be a PIL.Image.Image, got {type(image).__name__}")
    if image.mode not in ("L", "RGB", "RGBA"):
        raise ValueError(f"image mode must be L, RGB or RGBA, got {image.mode!r}")
    out = _resize_array(np.asarray(image), scale, size, antialias, edge)
    return Image.fromarray(out, mode=image.mode)


def _height_width(image: _Image) -> tuple[int, int]:
    """(H, W) of a tensor (..., H, W), a NumPy (H, W) or (H, W, C) array or a PIL image."""
    if isinstance(image, torch.Tensor):
        if image.dim() < 2:
            raise ValueError(f"image must have at least 2 dimensions, got {image.dim()}")
        return int(image.shape[-2]), int(image.shape[-1])
    if isinstance(image, np.ndarray):
        if image.ndim not in (2, 3):
            raise ValueError(f"image array must be (H, W) or (H, W, C), got shape {image.shape}")
        return int(image.shape[0]), int(image.shape[1])
    from PIL import Image

    if isinstance(image, Image.Image):
        w, h = image.size
        return h, w
    raise TypeError(f"image must be a tensor, numpy array or PIL image, got {type(image).__name__}")


def modcrop(image: _Image, scale: int) -> _Image:
    """Crop the top-left of `image` to height and width multiples of `scale`.

    Accepts a tensor (..., H, W), a NumPy (H, W) or (H, W, C) array (one that looks (C, H, W)
    is cropped as (H, W, C) with a warning), or a PIL image.
    """
    _warn_if_channels_first(image, "modcrop")
    return _modcrop(image, _validate.positive_int(scale, "scale"))


def _modcrop(image: _Image, scale: int) -> _Image:
    h, w = _height_width(image)
    if 0 < h < scale or 0 < w < scale:  # the crop would leave no pixels
        raise ValueError(f"scale {scale} is larger than the {h}x{w} image (height x width)")
    h, w = h - h % scale, w - w % scale
    if isinstance(image, torch.Tensor):
        return image[..., :h, :w]
    if isinstance(image, np.ndarray):
        return image[:h, :w]
    return image.crop((0, 0, w, h))


def degrade(hr: _Image, scale: int, *, edge: str = "mirror") -> _Image:
    """The LR image of the SR benchmarks: ``imresize(modcrop(hr, scale), 1/scale, 'bicubic')``.

    With uint8 input this reproduces the MATLAB-made LR files bit for bit (``edge="mirror"`` the
    EDSR pack, ``edge="clamp"`` the SelfExSR / RCAN packs). Accepts a (N, C, H, W) tensor, a
    NumPy (H, W[, C]) array (one that looks (C, H, W) is taken as (H, W, C) with a warning) or
    a PIL image and returns the same kind.
    """
    _warn_if_channels_first(hr, "degrade")
    if isinstance(hr, torch.Tensor):
        _validate.ndim(hr, "hr", 4, "(N, C, H, W)")
    scale = _validate.positive_int(scale, "scale")
    h, w = _height_width(hr)
    if scale > h or scale > w:  # also refuses an empty image (modcrop keeps it empty)
        raise ValueError(f"scale {scale} is larger than the {h}x{w} image (height x width)")
    cropped = _modcrop(hr, scale)
    if isinstance(cropped, torch.Tensor):
        return imresize(cropped, 1.0 / scale, edge=edge)
    if isinstance(cropped, np.ndarray):
        return _resize_array(cropped, 1.0 / scale, None, True, edge)
    return imresize_pil(cropped, 1.0 / scale, edge=edge)
