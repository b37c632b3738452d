"""Convolution ops on the CPU path (the reference backend) with the weight in the other memory
format than the input: the output still takes the input's format (the documented contract)
and the values do not change."""

from __future__ import annotations

import pytest
import torch
from _helpers import random_image

from sr_kernels import ops

FORMATS = {"nchw": torch.contiguous_format, "nhwc": torch.channels_last}


def _run(op: str, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    with ops.use_backend("reference"), ops.trace() as events:
        if op == "conv2d_act":
            out = ops.conv2d_act(x, w, b)
        elif op == "residual_block":
            out = ops.residual_block(x, w, b, w, b, 0.1)
        else:
            out = ops.conv_pixel_shuffle(x, w, b, 2)
    assert (op, "reference") in events, events
    return out


@pytest.mark.parametrize("op", ["conv2d_act", "residual_block", "conv_pixel_shuffle"])
@pytest.mark.parametrize("x_format", list(FORMATS))
@pytest.mark.parametrize("w_format", list(FORMATS))
def test_output_takes_the_input_format_whatever_the_weight_format(op, x_format, w_format):
    c_out = 64 if op == "conv_pixel_shuffle" else 16
    x = random_image((2, 16, 9, 11), torch.float32).contiguous(memory_format=FORMATS[x_format])
    w = (random_image((c_out, 16, 3, 3), torch.float32) - 0.5) * 0.2
    b = random_image((c_out,), torch.float32)
    out = _run(op, x, w.contiguous(memory_format=FORMATS[w_format]), b)
    assert out.is_contiguous(memory_format=FORMATS[x_format])
    expected = _run(op, x, w.contiguous(memory_format=FORMATS[x_format]), b)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_a_one_channel_input_in_both_layouts_counts_as_nchw():
    """(N, 1, H, W) with NHWC strides is contiguous in both formats; the contract (and the
    Triton backend) treat it as NCHW, and F.conv2d gave a channels_last result for it."""
    x = random_image((2, 7, 5, 1), torch.float32).permute(0, 3, 1, 2)
    assert x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
    w = (random_image((3, 1, 3, 3), torch.float32) - 0.5) * 0.2
    b = random_image((3,), torch.float32)
    out = _run("conv2d_act", x, w, b)
    assert out.is_contiguous()
    torch.testing.assert_close(out, _run("conv2d_act", x.contiguous(), w, b), rtol=0, atol=0)
