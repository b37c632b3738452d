"""Views with gaps (a crop or a channel slice) go through every op and backend in the memory
format PyTorch reads from their strides: an NHWC crop or channel split of a channels_last
activation gives a channels_last output on every backend (before, our kernels returned NCHW
there while the reference, through F.conv2d, returned channels_last), an NCHW crop an NCHW one,
and the values are those of the same backend on a dense copy."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from _helpers import backend_device, backend_params, random_image

from sr_kernels import ops

C = 16


def _views(dense: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.memory_format]]:
    """`dense`'s values as strided views, each with the output format it should give."""
    n, c, h, w = dense.shape

    def base(channels: int, memory_format: torch.memory_format) -> torch.Tensor:
        t = torch.zeros(n, channels, h + 2, w + 3, dtype=dense.dtype, device=dense.device)
        return t.contiguous(memory_format=memory_format)

    crop_nhwc = base(c, torch.channels_last)[:, :, 1 : h + 1, 2 : w + 2]
    split_nhwc = base(c + 3, torch.channels_last)[:, 3:, :h, :w]  # a channel split's second part
    crop_nchw = base(c, torch.contiguous_format)[:, :, 2:, 1 : w + 1]
    for view in (crop_nhwc, split_nhwc, crop_nchw):
        view.copy_(dense)
    assert not any(v.is_contiguous() for v in (crop_nhwc, split_nhwc, crop_nchw))
    assert not any(
        v.is_contiguous(memory_format=torch.channels_last)
        for v in (crop_nhwc, split_nhwc, crop_nchw)
    )
    return {
        "nhwc-crop": (crop_nhwc, torch.channels_last),
        "nhwc-channel-split": (split_nhwc, torch.channels_last),
        "nchw-crop": (crop_nchw, torch.contiguous_format),
    }


def _weights(c_out: int, c_in: int, k: int, dtype: torch.dtype, device: torch.device):
    w = (random_image((c_out, c_in, k, k), torch.float32, device) - 0.5) * 0.2
    b = random_image((c_out,), torch.float32, device) - 0.5
    return w.to(dtype), b.to(dtype)


def _case(op: str, backend: str) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
    """A dense input and the op applied to any view of it."""
    device = backend_device(backend)
    # The CUDA convolution kernels take float16 and bfloat16 (an NHWC crop of 16 channels is
    # read in place there, a view with other pixel strides copied first).
    dtype = torch.bfloat16 if backend == "cuda" else torch.float32
    if op == "imresize_uint8":
        return random_image((2, 3, 9, 11), torch.uint8, device), lambda v: ops.imresize(v, 0.5)
    if op == "imresize_float32":
        return random_image((2, 3, 9, 11), torch.float32, device), lambda v: ops.imresize(v, 2)
    x = random_image((2, C, 8, 10), torch.float32, device)
    if op in CONVOLUTIONS:
        x = x.to(dtype)
    if op == "pixel_shuffle":
        return x, lambda v: ops.pixel_shuffle(v, 2)
    if op == "pixel_unshuffle":
        return x, lambda v: ops.pixel_unshuffle(v, 2)
    if op == "residual_block":
        (w1, b1), (w2, b2) = (_weights(C, C, 3, dtype, device) for _ in range(2))
        return x, lambda v: ops.residual_block(v, w1, b1, w2, b2, 0.5)
    if op == "conv_pixel_shuffle":
        w, b = _weights(4 * C, C, 3, dtype, device)
        return x, lambda v: ops.conv_pixel_shuffle(v, w, b, 2)
    assert op == "conv2d_act"
    w, b = _weights(C, C, 3, dtype, device)
    return x, lambda v: ops.conv2d_act(v, w, b)


OPS = [
    "imresize_uint8",
    "imresize_float32",
    "pixel_shuffle",
    "pixel_unshuffle",
    "residual_block",
    "conv_pixel_shuffle",
    "conv2d_act",
]
CONVOLUTIONS = ("residual_block", "conv_pixel_shuffle", "conv2d_act")
# conv2d_act has no C++ kernel (oneDNN and cuDNN through the reference are its fast paths).
NOT_SERVED = {("conv2d_act", "cpu"), ("conv2d_act", "cuda")}


@pytest.mark.parametrize("backend", backend_params("reference", "cpu", "triton", "cuda"))
@pytest.mark.parametrize("op", OPS)
def test_a_strided_view_keeps_its_layout_on_every_backend(op, backend):
    if (op, backend) in NOT_SERVED:
        pytest.skip(f"{op} has no {backend} kernel")
    dense, run = _case(op, backend)
    name = op.removesuffix("_uint8").removesuffix("_float32")
    with ops.use_backend(backend):
        expected = run(dense)
        for label, (view, memory_format) in _views(dense).items():
            with ops.trace() as events:
                out = run(view)
            assert (name, backend) in events, (label, events)
            assert out.is_contiguous(memory_format=memory_format), (label, out.stride())
            # uint8 is exact; the CUDA convolutions sum the same products in the same order
            # whatever the strides (float imresize may take another path for another alignment).
            if dense.dtype == torch.uint8 or (backend == "cuda" and name in CONVOLUTIONS):
                assert torch.equal(out, expected), label
            else:
                torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6, msg=label)


def _registered_cases(
    device: torch.device,
) -> dict[str, tuple[object, Callable[[torch.Tensor], tuple]]]:
    """(registered torch op, its arguments for a given x) per (op, backend) name."""
    import sr_kernels.ops.triton.conv2d_act  # noqa: F401  (each import registers its custom op)
    import sr_kernels.ops.triton.conv_pixel_shuffle  # noqa: F401
    import sr_kernels.ops.triton.imresize  # noqa: F401
    import sr_kernels.ops.triton.pixel_shuffle  # noqa: F401
    import sr_kernels.ops.triton.residual_block  # noqa: F401

    w, b = _weights(C, C, 3, torch.float32, device)
    wu, bu = _weights(4 * C, C, 3, torch.float32, device)
    so = torch.ops.sr_kernels
    # The backward ops take the gradient of an (8, 10) output; (16, 20) is the input it came
    # from at scales (0.5, 0.5).
    return {
        "imresize": (so.imresize, lambda x: (x, 4, 15, 0.5, 1.5, True, "mirror")),
        "imresize_triton": (so.imresize_triton, lambda x: (x, 4, 15, 0.5, 1.5, True, "mirror")),
        "imresize_backward": (so.imresize_backward, lambda g: (g, 16, 20, 0.5, 0.5, True, "clamp")),
        "imresize_backward_triton": (
            so.imresize_backward_triton,
            lambda g: (g, 16, 20, 0.5, 0.5, True, "clamp"),
        ),
        "pixel_shuffle": (so.pixel_shuffle, lambda x: (x, 2)),
        "pixel_shuffle_triton": (so.pixel_shuffle_triton, lambda x: (x, 2)),
        "pixel_unshuffle": (so.pixel_unshuffle, lambda x: (x, 2)),
        "pixel_unshuffle_triton": (so.pixel_unshuffle_triton, lambda x: (x, 2)),
        "residual_block": (so.residual_block, lambda x: (x, w, b, w, b, 0.5)),
        "residual_block_triton": (so.residual_block_triton, lambda x: (x, w, b, w, b, 0.5, False)),
        "conv_pixel_shuffle": (so.conv_pixel_shuffle, lambda x: (x, wu, bu, 2)),
        "conv_pixel_shuffle_triton": (
            so.conv_pixel_shuffle_triton,
            lambda x: (x, wu, bu, 2, False),
        ),
        "conv2d_act_triton": (so.conv2d_act_triton, lambda x: (x, w, b, "zeros", "relu", False)),
    }


@pytest.mark.parametrize("backend", backend_params("reference", "cpu", "triton", "cuda"))
@pytest.mark.parametrize("op", OPS)
def test_one_image_from_an_hwc_array_is_channels_last_on_every_backend(op, backend):
    """`torch.from_numpy(a).permute(2, 0, 1)[None]` (strides (C, 1, W * C, C)): dense NHWC by
    is_contiguous(channels_last), though F.conv2d reads its strides as NCHW; every backend
    returns channels_last for it (the reference convolutions by a copy)."""
    if (op, backend) in NOT_SERVED:
        pytest.skip(f"{op} has no {backend} kernel")
    dense, run = _case(op, backend)
    image = dense[:1].contiguous()
    view = image[0].permute(1, 2, 0).contiguous().permute(2, 0, 1)[None]
    assert view.stride()[1] == 1 and view.stride()[0] == view.shape[1]
    with ops.use_backend(backend):
        expected, out = run(image), run(view)
    assert out.is_contiguous(memory_format=torch.channels_last), out.stride()
    if image.dtype == torch.uint8 or (backend == "cuda" and op in CONVOLUTIONS):
        assert torch.equal(out, expected)
    else:
        torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)


REGISTERED = {
    "cpu": (
        "imresize",
        "imresize_backward",
        "pixel_shuffle",
        "pixel_unshuffle",
        "residual_block",
        "conv_pixel_shuffle",
    ),
    "triton": (
        "imresize_triton",
        "imresize_backward_triton",
        "pixel_shuffle_triton",
        "pixel_unshuffle_triton",
        "residual_block_triton",
        "conv_pixel_shuffle_triton",
        "conv2d_act_triton",
    ),
}


@pytest.mark.parametrize("backend", backend_params("cpu", "triton"))
def test_fake_kernels_give_the_real_strides_of_a_view(backend):
    """Each registered op's fake kernel (what torch.compile traces with) must give the output
    strides its real kernel gives, strided views included (opcheck compares them)."""
    device = backend_device(backend)
    cases = _registered_cases(device)
    dense = random_image((2, C, 8, 10), torch.float32, device)
    views = {label: view for label, (view, _) in _views(dense).items()}
    views["hwc-array-batch-of-one"] = dense[0].permute(1, 2, 0).contiguous().permute(2, 0, 1)[None]
    for name in REGISTERED[backend]:
        op, arguments = cases[name]
        for label, view in views.items():
            try:
                torch.library.opcheck(op, arguments(view), test_utils=("test_faketensor",))
            except Exception as error:
                raise AssertionError(f"{name}, {label}: {error}") from error
