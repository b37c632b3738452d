"""Argument checks shared by the public ops: one wording for every error message."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import numpy as np
import torch

_DTYPE_NAMES = {
    torch.float64: "float64",
    torch.float32: "float32",
    torch.float16: "float16",
    torch.bfloat16: "bfloat16",
    torch.uint8: "uint8",
}


def dtype_name(dtype: torch.dtype) -> str:
    return _DTYPE_NAMES.get(dtype, str(dtype).replace("torch.", ""))


def tensor(x: object, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.layout != torch.strided or x.is_nested:  # the kernels address strided memory
        kind = "nested" if x.is_nested else str(x.layout).replace("torch.", "")
        raise TypeError(f"{name} must be a dense (strided) tensor, got a {kind} tensor")
    return x


def ndim(x: torch.Tensor, name: str, expected: int, layout: str) -> None:
    if x.dim() != expected:
        raise ValueError(
            f"{name} must be a {expected}-D tensor {layout}, got a {x.dim()}-D tensor "
            f"of shape {tuple(x.shape)}"
        )


def dtype(x: torch.Tensor, name: str, allowed: Iterable[torch.dtype]) -> None:
    allowed = tuple(allowed)
    if x.dtype not in allowed:
        names = ", ".join(dtype_name(d) for d in allowed)
        raise TypeError(f"{name} has dtype {dtype_name(x.dtype)}; expected one of {names}")


def integer(value: object, name: str) -> int:
    """`value` as an int: Python's or NumPy's integers (np.int64 from shapes and arrays), not a
    bool, a float or a tensor."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)


def positive_int(value: object, name: str) -> int:
    value = integer(value, name)
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return value


def flag(value: object, name: str) -> bool:
    """A Python or NumPy bool as a Python bool (no other truthy value: 0, 1, "yes")."""
    if not isinstance(value, (bool, np.bool_)):
        kind = type(value)
        raise TypeError(f"{name} must be a bool, got {kind.__module__}.{kind.__qualname__}")
    return bool(value)


def real_number(value: object, name: str) -> float:
    """`value` as a float: any real number (Python's or NumPy's), not a bool (True as a scale
    is a mistake), a string, a complex number or a tensor."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number (int or float), got {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:  # an int beyond float's range (10**400)
        if isinstance(value, int):  # str() of a huge int is itself refused past 4300 digits
            size = f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
        else:
            size = f"a {type(value).__name__} beyond float's range"
        raise ValueError(f"{name} is too large for a float, got {size}") from None


def positive_finite(value: object, name: str) -> float:
    """`value` (a real number, as `real_number`) as a float in (0, inf)."""
    value = real_number(value, name)
    # Compared, not math.isfinite: under torch.compile a float argument that changes between
    # calls is symbolic, and math.isfinite of it fails a fullgraph compile (see residual_block).
    if not 0.0 < value < math.inf:
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return value
