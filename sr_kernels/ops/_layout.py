"""Memory-layout helpers shared by the public ops and every backend (a leaf module)."""

from __future__ import annotations

import torch


def is_channels_last(x: torch.Tensor) -> bool:
    """True when `x` is laid out NHWC (and not also plain contiguous, e.g. C == 1).

    A dense tensor counts when ``x.is_contiguous(memory_format=torch.channels_last)``, which
    ignores the strides of size-1 dims: a batch of one image made from a NumPy H x W x C array
    (``torch.from_numpy(a).permute(2, 0, 1)[None]``, strides (3, 1, 3W, 3)) is NHWC here, where
    PyTorch's own stride rule (``suggest_memory_format``, which F.conv2d follows) reads it as
    NCHW. A view with gaps (a crop or a channel slice of an NHWC tensor) counts by that stride
    rule, as PyTorch's ops read it: so an op's output keeps the layout of a channels_last network
    whose activations get cropped or split, on every backend alike. python/layout.h is the same
    rule for the bindings.
    """
    if x.dim() != 4 or x.is_contiguous():
        return False
    return x.is_contiguous(memory_format=torch.channels_last) or _strides_read_as_nhwc(x)


def _strides_read_as_nhwc(x: torch.Tensor) -> bool:
    """PyTorch's rule for a 4-D tensor's strides (c10 ``is_channels_last_strides_2d``, behind
    ``suggest_memory_format``): walking C, W, H, N, each stride must be at least the extent of
    the dims walked so far (a size-1 dim adds nothing), with NCHW for the ambiguous cases (a
    channel stride of 0, or N's stride equal to C's)."""
    sizes, strides = x.shape, x.stride()
    if strides[1] == 0:
        return False
    extent = 0
    for d in (1, 3, 2, 0):
        if sizes[d] == 0 or strides[d] < extent or (d == 0 and extent == strides[1]):
            return False
        extent = strides[d] * sizes[d] if sizes[d] > 1 else strides[d]
    return True


def memory_format(x: torch.Tensor) -> torch.memory_format:
    """The memory format an op's output takes from its input: channels_last or contiguous."""
    return torch.channels_last if is_channels_last(x) else torch.contiguous_format


def as_format_of(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """`y` (an op's image output) in x's memory format: a copy only where it is laid out
    otherwise (e.g. F.conv2d reads a dense NHWC batch of one with odd batch strides, or a
    1-channel image, by another rule)."""
    # The common NCHW case decided without further calls: right after a large CPU op flushed
    # the caches each Python call costs microseconds (EDSR head, 2-core machine).
    if x.is_contiguous() or not is_channels_last(x):
        return y.contiguous()
    return y.contiguous(memory_format=torch.channels_last)


def like_input(weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """`weight`, made contiguous when `x` is NCHW and the weight channels_last, so that a
    convolution runs in x's layout: oneDNN and cuDNN compute channels_last when either operand
    is, and the full-size result would then need a layout copy (the weight is the small tensor).
    A channels_last `x` makes the convolution channels_last whatever the weight's layout."""
    if weight.is_contiguous() or is_channels_last(x):  # the common cases, decided cheaply
        return weight
    return weight.contiguous() if is_channels_last(weight) else weight
