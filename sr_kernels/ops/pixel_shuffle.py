"""Public pixel_shuffle / pixel_unshuffle: validation, then dispatch through the registry."""

from __future__ import annotations

import torch

from . import _registry, _validate

SUPPORTED_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.uint8, torch.float64)

_MODULES = {
    "reference": "sr_kernels.ops.reference.pixel_shuffle",
    "triton": "sr_kernels.ops.triton.pixel_shuffle",
    "cpu": "sr_kernels.ops._ext.pixel_shuffle",
    "cuda": "sr_kernels.ops._ext.pixel_shuffle",
}
_registry.register_op("pixel_shuffle", _MODULES)
_registry.register_op("pixel_unshuffle", _MODULES)


_INT64_MAX = 2**63 - 1


def _check(x: torch.Tensor, r: int) -> int:
    _validate.tensor(x, "x")
    _validate.ndim(x, "x", 4, "(N, C, H, W)")
    r = _validate.positive_int(r, "r")
    _validate.dtype(x, "x", SUPPORTED_DTYPES)
    # The kernels compute r*r and the output sizes in int64 (r = 2**32 made r*r wrap to 0).
    if r * r * max(x.shape[1], x.shape[2], x.shape[3], 1) > _INT64_MAX:
        raise ValueError(f"r = {r} is too large: the output sizes would overflow int64")
    return r


def pixel_shuffle(x: torch.Tensor, r: int) -> torch.Tensor:
    """Rearrange (N, C*r*r, H, W) into (N, C, H*r, W*r), exactly as `F.pixel_shuffle`.

    ``out[n, c, h*r + i, w*r + j] = x[n, c*r*r + i*r + j, h, w]`` (PyTorch channel order, the
    CRD order of ONNX DepthToSpace).

    Args:
        x: input of shape (N, C*r*r, H, W); any strides.
        r: upscale factor, a positive int.

    Returns:
        Tensor of shape (N, C, H*r, W*r) in the input's memory format (channels_last input gives
        channels_last output; anything else gives contiguous output).

    Dtypes: float32, float16, bfloat16, uint8, float64 (a bitwise copy: results are exact).
    Backends: cuda, cpu (compiled extension), triton, reference. Differentiable (the gradient
    is `pixel_unshuffle` of the output gradient). Batch 0 is allowed.
    Raises:
        TypeError: x is not a tensor, has an unsupported dtype, or r is not an int.
        ValueError: x is not 4-D, r <= 0, or the channels are not divisible by r*r.
    """
    r = _check(x, r)
    if x.shape[1] % (r * r) != 0:
        raise ValueError(
            f"x has {x.shape[1]} channels, which is not divisible by r*r = {r * r} (r = {r})"
        )
    meta = _registry.tensor_meta(x)
    return _registry.dispatch("pixel_shuffle", meta, x, r)


def pixel_unshuffle(x: torch.Tensor, r: int) -> torch.Tensor:
    """Inverse of `pixel_shuffle`: (N, C, H*r, W*r) -> (N, C*r*r, H, W), as `F.pixel_unshuffle`.

    ``out[n, c*r*r + i*r + j, h, w] = x[n, c, h*r + i, w*r + j]``.

    Args:
        x: input of shape (N, C, H, W) with H and W divisible by r; any strides.
        r: downscale factor, a positive int.

    Returns:
        Tensor of shape (N, C*r*r, H/r, W/r) in the input's memory format.

    Dtypes, backends, autograd: as `pixel_shuffle`.
    Raises:
        TypeError / ValueError as `pixel_shuffle`; ValueError when H or W is not divisible by r.
    """
    r = _check(x, r)
    if x.shape[2] % r != 0 or x.shape[3] % r != 0:
        raise ValueError(
            f"x has height {x.shape[2]} and width {x.shape[3]}; both must be divisible by r = {r}"
        )
    meta = _registry.tensor_meta(x)
    return _registry.dispatch("pixel_unshuffle", meta, x, r)
