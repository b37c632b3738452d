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
    """`weight` in `x`'s memory format (no copy when it already is), so that a convolution runs
    in x's layout: with the weight in the other one, oneDNN and cuDNN compute channels_last and
    the full-size result needs a layout copy (the weight is the small tensor)."""
    return weight.contiguous(memory_format=memory_format(x))
