"""`_layout.is_channels_last`: a dense tensor is NHWC when `is_contiguous(channels_last)` says so
(which ignores the strides of size-1 dims), any other by PyTorch's stride rule
(`suggest_memory_format`, which convolutions follow), and a tensor that is also plain
contiguous (a 1-channel image) is NCHW. Checked on permutations, slices with steps and offsets,
expanded (stride 0) and empty dims."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch._prims_common import suggest_memory_format

from sr_kernels.ops import _layout


@st.composite
def views(draw) -> torch.Tensor:
    sizes = [draw(st.integers(0 if d == 0 else 1, 5)) for d in range(4)]
    base = torch.zeros([s + draw(st.integers(0, 2)) for s in sizes])
    order = draw(st.permutations(range(4)))
    base = base.permute(*order).contiguous().permute(*[order.index(d) for d in range(4)])
    index = []
    for d, size in enumerate(sizes):
        start = draw(st.integers(0, base.shape[d] - size))
        step = draw(st.sampled_from([1, 1, 2])) if size > 1 and base.shape[d] >= 2 * size else 1
        index.append(slice(start, start + step * size, step))
    view = base[tuple(index)]
    expand = draw(st.sampled_from([None, 1, 2, 3]))
    if expand is not None and view.shape[expand] >= 1:
        shape = list(view.shape)
        view = view.narrow(expand, 0, 1).expand(*shape)
    return view


@settings(max_examples=400, derandomize=True, deadline=None)
@given(views())
def test_is_channels_last_follows_pytorchs_rules(view):
    dense_nhwc = view.is_contiguous(memory_format=torch.channels_last)
    strides_nhwc = suggest_memory_format(view) == torch.channels_last
    expected = (dense_nhwc or strides_nhwc) and not view.is_contiguous()
    assert _layout.is_channels_last(view) == expected, (view.shape, view.stride())
    expected = torch.channels_last if _layout.is_channels_last(view) else torch.contiguous_format
    assert _layout.memory_format(view) == expected


def test_the_common_cases():
    x = torch.zeros(2, 3, 5, 7)
    nhwc = x.contiguous(memory_format=torch.channels_last)
    assert not _layout.is_channels_last(x)
    assert _layout.is_channels_last(nhwc)
    assert _layout.is_channels_last(nhwc[:, :, 1:4, 2:6])  # a crop
    assert _layout.is_channels_last(nhwc[:, 1:])  # a channel split
    assert not _layout.is_channels_last(x[:, :, 1:4, 2:6])
    # One image from a NumPy H x W x C array: NHWC, though F.conv2d reads its strides as NCHW.
    from_numpy = torch.zeros(5, 7, 3).permute(2, 0, 1)[None]
    assert from_numpy.stride() == (3, 1, 21, 3)
    assert _layout.is_channels_last(from_numpy)
    one_channel = torch.zeros(2, 1, 5, 7).contiguous(memory_format=torch.channels_last)
    assert not _layout.is_channels_last(one_channel)  # contiguous in both formats: NCHW
    assert not _layout.is_channels_last(torch.zeros(2, 3, 5))  # not 4-D
