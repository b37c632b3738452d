"""The conv ops' one-expression checks of the common case against the detailed checks they skip.

`plain_conv_args` lets conv2d_act skip `conv_args`, and, built on it,
`plain_block_args` lets residual_block skip `block_args` and `plain_upsampler_args` lets
conv_pixel_shuffle skip `upsampler_args`;
each must accept nothing those would refuse or change (else a bad input would go unreported),
and must accept the plain valid case (else it saves nothing).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sr_kernels.ops import _conv_validate as check
from sr_kernels.ops import _registry


def _detailed(checks, *arguments):
    """What an op's detailed checks (`checks`) make of `arguments`: what they return, or the
    error they raise."""
    try:
        return checks(*arguments)
    except (TypeError, ValueError) as error:
        return error


_FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
_CHANGES = (
    "none", "x_3d", "x_list", "x_int", "x_nested", "no_channels", "no_height", "no_width",
    "no_outputs", "even_kernel", "non_square", "c_in", "w_dtype", "w_sparse", "w_meta", "b_length",
    "b_2d", "b_dtype", "b_meta",
)  # fmt: skip


@st.composite
def _arguments(draw):
    """A valid (x, w, b) with one thing changed (or none) that the detailed checks refuse."""
    change = draw(st.sampled_from(_CHANGES))
    n, c, h, width = (draw(st.integers(0, 2)), *(draw(st.integers(1, 3)) for _ in range(3)))
    c_out, k = draw(st.integers(1, 3)), draw(st.sampled_from([1, 3, 5]))
    dtype = draw(st.sampled_from(_FLOATS))
    c, h, width = (
        0 if change == f"no_{name}" else size
        for name, size in (("channels", c), ("height", h), ("width", width))
    )
    c_out = 0 if change == "no_outputs" else c_out
    k_h = k + {"even_kernel": 1, "non_square": 2}.get(change, 0)
    k_w = k + 1 if change == "even_kernel" else k
    c_in = c + 1 if change == "c_in" else c
    x = torch.rand(n, c, h, width, dtype=dtype)
    if draw(st.booleans()):
        x = x.contiguous(memory_format=torch.channels_last)
    other = torch.float64 if dtype != torch.float64 else torch.float32
    w = torch.rand(c_out, c_in, k_h, k_w, dtype=other if change == "w_dtype" else dtype)
    b = torch.rand(c_out + (change == "b_length"), dtype=other if change == "b_dtype" else dtype)
    if change == "x_3d":
        x = x[0] if n else x.flatten(0, 1)
    elif change == "x_list":
        x = x.tolist()
    elif change == "x_int":
        x = x.to(torch.int32)
    elif change == "x_nested":
        x = torch.nested.nested_tensor([x[0] if n else x.flatten(0, 1)])
    elif change == "w_sparse":
        w = w.to_sparse()
    elif change == "w_meta":
        w = w.to("meta")
    elif change == "b_2d":
        b = b[None]
    elif change == "b_meta":
        b = b.to("meta")
    return x, w, b  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(_arguments(), st.booleans())
def test_the_fast_check_accepts_only_what_the_detailed_checks_pass(arguments, autocasting):
    x, w, b = arguments
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocasting):
        sizes = check.plain_conv_args(x, w, b)
        detailed = _detailed(check.conv_args, x, w, b)
    if sizes is not None:
        assert not isinstance(detailed, Exception), detailed
        # unchanged: no autocast cast, the very tensors the op was given
        assert all(a is b_ for a, b_ in zip(detailed, (x, w, b), strict=True))
        assert sizes == (x.shape[1], w.shape[0], w.shape[-1])
    elif not isinstance(detailed, Exception):
        # skipped only because autocast may cast them
        assert autocasting and x.dtype in check.FLOAT_DTYPES


def test_the_fast_check_accepts_the_plain_cases():
    for dtype in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
        for layout in (torch.contiguous_format, torch.channels_last):
            x = torch.rand(2, 3, 5, 7, dtype=dtype).contiguous(memory_format=layout)
            conv = torch.nn.Conv2d(3, 8, 9, padding=4).to(dtype)  # Parameters, as models pass
            assert check.plain_conv_args(x, conv.weight, conv.bias) == (3, 8, 9)
            assert check.plain_conv_args(x[:0], conv.weight, conv.bias) == (3, 8, 9)


@pytest.mark.parametrize("value", [None, "", "auto", "reference", "bogus", "é-ü"])
def test_reading_the_environment_agrees_with_os_environ(monkeypatch, value):
    """forced_backend's eager read of SR_KERNELS_BACKEND (os.environ's own table) sees every
    os.environ write, as os.environ.get does."""
    import os

    if value is None:
        monkeypatch.delenv("SR_KERNELS_BACKEND", raising=False)
    else:
        monkeypatch.setenv("SR_KERNELS_BACKEND", value)
    assert _registry._environ_backend() == os.environ.get("SR_KERNELS_BACKEND")


def test_the_variable_key_is_os_environs():
    """`_ENV_KEY` (fixed at import) is the key os.environ's table stores the variable under."""
    import os

    assert _registry._ENV_KEY == os.environ.encodekey("SR_KERNELS_BACKEND")


@pytest.mark.parametrize("ask", ["_any_autocast", "_cpu_or_cuda_autocast"])
def test_the_autocast_test_sees_an_open_region(ask):
    """The fast check's autocast test (torch's quick one, and ours where torch lacks it)."""
    is_open = getattr(check, ask)
    assert not is_open()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert is_open()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=False):
        assert not is_open()
    assert not is_open()
    torch.set_autocast_enabled("cuda", True)  # a CUDA region's flag; needs no GPU
    try:
        assert is_open()
    finally:
        torch.set_autocast_enabled("cuda", False)
    assert not is_open()


_BLOCK_CHANGES = (
    "none", "x_3d", "x_int", "no_channels", "c_out", "kernel", "w2_shape", "w2_dtype", "w2_list",
    "w2_sparse", "w2_meta", "w2_nested", "b2_length", "b2_2d", "b2_dtype", "b2_meta", "b2_list",
    "b2_sparse", "b2_nested",
)  # fmt: skip


@st.composite
def _block_arguments(draw):
    """A valid (x, w1, b1, w2, b2) with one thing changed (or none) that the detailed checks
    refuse ("c_out" and "kernel" change all four parameters alike). Bad w1 or b1 alone, and
    other sizes of x, are `plain_conv_args`'s cases, which its own property test covers."""
    change = draw(st.sampled_from(_BLOCK_CHANGES))
    n, c, h, width = draw(st.integers(0, 2)), draw(st.integers(1, 3)), 3, 4
    c = 0 if change == "no_channels" else c
    dtype = draw(st.sampled_from(_FLOATS))
    other = torch.float64 if dtype != torch.float64 else torch.float32
    x = torch.rand(n, c, h, width, dtype=dtype)
    if draw(st.booleans()):
        x = x.contiguous(memory_format=torch.channels_last)
    # c_out, kernel: both weights and biases alike, (C + 1, C, 3, 3) or (C, C, 5, 5)
    c_out, k = c + (change == "c_out"), 5 if change == "kernel" else 3
    w1 = torch.rand(c_out, c, k, k, dtype=dtype)
    b1 = torch.rand(c_out, dtype=dtype)
    w2 = torch.rand(
        c_out, c + (change == "w2_shape"), k, k, dtype=other if change == "w2_dtype" else dtype
    )
    b2 = torch.rand(c_out + (change == "b2_length"), dtype=other if change == "b2_dtype" else dtype)
    if change == "x_3d":
        x = x.flatten(0, 1)
    elif change == "x_int":
        x = x.to(torch.int32)
    elif change == "w2_list":
        w2 = w2.tolist()
    elif change == "w2_sparse":
        w2 = w2.to_sparse()
    elif change == "w2_meta":
        w2 = w2.to("meta")
    elif change == "w2_nested":
        w2 = torch.nested.nested_tensor([w2[0]])
    elif change == "b2_2d":
        b2 = b2[None]
    elif change == "b2_meta":
        b2 = b2.to("meta")
    elif change == "b2_list":
        b2 = b2.tolist()
    elif change == "b2_sparse":
        b2 = b2.to_sparse()
    elif change == "b2_nested":
        b2 = torch.nested.nested_tensor([b2])
    return x, w1, b1, w2, b2


@settings(max_examples=300, deadline=None)
@given(_block_arguments(), st.booleans())
def test_the_block_fast_check_accepts_only_what_the_detailed_checks_pass(arguments, autocasting):
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocasting):
        c = check.plain_block_args(*arguments)
        detailed = _detailed(check.block_args, *arguments)
    if c is not None:
        assert not isinstance(detailed, Exception), detailed
        assert all(a is b for a, b in zip(detailed, arguments, strict=True))
        assert c == arguments[0].shape[1]
    elif not isinstance(detailed, Exception):
        assert autocasting and arguments[0].dtype in check.FLOAT_DTYPES


def test_the_block_fast_check_accepts_the_plain_cases():
    for dtype in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
        for layout in (torch.contiguous_format, torch.channels_last):
            x = torch.rand(2, 16, 5, 7, dtype=dtype).contiguous(memory_format=layout)
            convs = [torch.nn.Conv2d(16, 16, 3, padding=1).to(dtype) for _ in range(2)]
            params = [p for conv in convs for p in (conv.weight, conv.bias)]
            assert check.plain_block_args(x, *params) == 16
            assert check.plain_block_args(x[:0], *params) == 16


_UPSAMPLER_CHANGES = (
    "none", "r_numpy", "r_1", "r_4", "r_bool", "r_float", "r_str", "c_out", "kernel", "x_3d",
    "b_length",
)  # fmt: skip


@st.composite
def _upsampler_arguments(draw):
    """A valid (x, w, b, r) with one thing changed (or none). A NumPy integer r is valid, but
    only the detailed checks take it. Other bad x, w or b are `plain_conv_args`'s cases."""
    change = draw(st.sampled_from(_UPSAMPLER_CHANGES))
    r = draw(st.sampled_from([2, 3]))
    n, c, c_mid = draw(st.integers(0, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    dtype = draw(st.sampled_from(_FLOATS))
    x = torch.rand(n, c, 3, 4, dtype=dtype)
    if draw(st.booleans()):
        x = x.contiguous(memory_format=torch.channels_last)
    # r_4 with C_out a multiple of 16, so that only the range of r refuses it
    c_out = c_mid * (16 if change == "r_4" else r * r) + (change == "c_out")
    k = 5 if change == "kernel" else 3
    w = torch.rand(c_out, c, k, k, dtype=dtype)
    b = torch.rand(c_out + (change == "b_length"), dtype=dtype)
    if change == "x_3d":
        x = x.flatten(0, 1)
    r = {
        "r_numpy": np.int64(r), "r_1": 1, "r_4": 4, "r_bool": True, "r_float": float(r),
        "r_str": str(r),
    }.get(change, r)  # fmt: skip
    return x, w, b, r


@settings(max_examples=300, deadline=None)
@given(_upsampler_arguments(), st.booleans())
def test_the_upsampler_fast_check_accepts_only_what_the_detailed_checks_pass(
    arguments, autocasting
):
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocasting):
        sizes = check.plain_upsampler_args(*arguments)
        detailed = _detailed(check.upsampler_args, *arguments)
    if sizes is not None:
        assert not isinstance(detailed, Exception), detailed
        assert all(a is b for a, b in zip(detailed[:3], arguments[:3], strict=True))
        assert type(detailed[3]) is int and detailed[3] == arguments[3]
        assert sizes == (arguments[0].shape[1], arguments[1].shape[0])
    elif not isinstance(detailed, Exception):
        # skipped only because autocast may cast them, or r is not a Python int
        assert (autocasting and arguments[0].dtype in check.FLOAT_DTYPES) or isinstance(
            arguments[3], np.integer
        )


def test_the_upsampler_fast_check_accepts_the_plain_cases():
    for dtype in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
        for layout in (torch.contiguous_format, torch.channels_last):
            x = torch.rand(2, 16, 5, 7, dtype=dtype).contiguous(memory_format=layout)
            for r in (2, 3):
                conv = torch.nn.Conv2d(16, 4 * r * r, 3, padding=1).to(dtype)
                sizes = check.plain_upsampler_args(x, conv.weight, conv.bias, r)
                assert sizes == (16, 4 * r * r)
                assert check.plain_upsampler_args(x[:0], conv.weight, conv.bias, r) == sizes


def test_the_ops_take_the_fast_path_on_plain_inputs(monkeypatch):
    """conv2d_act, residual_block and conv_pixel_shuffle skip the detailed checks for plain
    inputs (else the fast checks would save nothing, silently)."""
    from sr_kernels import ops

    def refuse(*args, **kwargs):
        raise AssertionError("the detailed checks ran")

    monkeypatch.setattr(check, "image", refuse)
    x = torch.rand(1, 16, 5, 6)
    w, b = torch.rand(16, 16, 3, 3), torch.rand(16)
    torch.testing.assert_close(
        ops.conv2d_act(x, w, b), torch.relu(torch.nn.functional.conv2d(x, w, b, padding=1))
    )
    inner = torch.relu(torch.nn.functional.conv2d(x, w, b, padding=1))
    expected = x + 0.5 * torch.nn.functional.conv2d(inner, w, b, padding=1)
    torch.testing.assert_close(ops.residual_block(x, w, b, w, b, 0.5), expected)
    w_up, b_up = torch.rand(16, 16, 3, 3), torch.rand(16)
    torch.testing.assert_close(
        ops.conv_pixel_shuffle(x, w_up, b_up, 2),
        torch.nn.functional.pixel_shuffle(torch.nn.functional.conv2d(x, w_up, b_up, padding=1), 2),
    )
    with pytest.raises(AssertionError, match="the detailed checks ran"):  # bad input: they run
        ops.residual_block(x, w, b, w[:8], b, 0.5)
    with pytest.raises(AssertionError, match="the detailed checks ran"):
        ops.conv_pixel_shuffle(x, w_up, b_up, 3)
