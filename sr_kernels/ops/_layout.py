"""Memory-layout helpers shared by the public ops and every backend (a leaf module)."""

from __future__ import annotations

import torch


def is_channels_last(x: torch.Tensor) -> bool:
    """True when `x` is laid out NHWC (and not also plain contiguous, e.g. C == 1)."""
    return (
        x.dim() == 4
        and x.is_contiguous(memory_format=torch.channels_last)
        and not x.is_contiguous()
    )


def memory_format(x: torch.Tensor) -> torch.memory_format:
    """The memory format an op's output takes from its input: channels_last or contiguous."""
    return torch.channels_last if is_channels_last(x) else torch.contiguous_format


def like_input(weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """`weight`, made contiguous when `x` is NCHW and the weight channels_last, so that a
    convolution runs in x's layout: oneDNN and cuDNN compute channels_last when either operand
    is, and the full-size result would then need a layout copy (the weight is the small tensor).
    A channels_last `x` makes the convolution channels_last whatever the weight's layout."""
    if weight.is_contiguous() or is_channels_last(x):  # the common cases, decided cheaply
        return weight
    return weight.contiguous() if is_channels_last(weight) else weight
