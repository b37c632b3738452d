"""pixel_shuffle / pixel_unshuffle: bitwise equal to PyTorch on every backend, dtype and layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _helpers import ALL_BACKENDS, backend_device, backend_params, random_image

from sr_kernels import ops

DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.uint8, torch.float64]
# (N, C_out, H, W, r) of the shuffled (big) tensor's channel count C_out, small spatial sizes.
SHAPES = [(2, 2, 5, 7, 2), (1, 1, 1, 1, 3), (3, 3, 4, 6, 3), (2, 4, 3, 3, 1), (0, 2, 3, 3, 2)]
LAYOUTS = ["contiguous", "channels_last", "sliced", "permuted"]


def _make(shape, dtype, layout, device):
    """A random tensor of `shape` with the memory layout named by `layout`."""
    n, c, h, w = shape
    if layout == "contiguous":
        return random_image(shape, dtype, device)
    if layout == "channels_last":
        return random_image(shape, dtype, device).contiguous(memory_format=torch.channels_last)
    if layout == "sliced":  # a view with gaps between rows and images
        big = random_image((n, c + 1, h + 2, w + 3), dtype, device)
        return big[:, 1:, 1 : h + 1, 2 : w + 2]
    if layout == "permuted":  # H and W swapped in memory
        return random_image((n, c, w, h), dtype, device).transpose(2, 3)
    raise ValueError(layout)


def _expected_format(x):
    channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    return torch.channels_last if channels_last else torch.contiguous_format


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_pixel_shuffle_bitwise(backend, layout, dtype, shape):
    n, c, h, w, r = shape
    device = backend_device(backend)
    x = _make((n, c * r * r, h, w), dtype, layout, device)
    with ops.use_backend(backend), ops.trace() as events:
        out = ops.pixel_shuffle(x, r)
    assert ("pixel_shuffle", backend) in events
    expected = F.pixel_shuffle(x, r)
    assert out.shape == expected.shape and out.dtype == dtype
    assert torch.equal(out, expected)
    assert out.is_contiguous(memory_format=_expected_format(x))


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_pixel_unshuffle_bitwise(backend, layout, dtype, shape):
    n, c, h, w, r = shape
    device = backend_device(backend)
    x = _make((n, c, h * r, w * r), dtype, layout, device)
    with ops.use_backend(backend), ops.trace() as events:
        out = ops.pixel_unshuffle(x, r)
    assert ("pixel_unshuffle", backend) in events
    if x.numel() == 0:
        # F.pixel_unshuffle returns an empty input unchanged (shape (0, C, H, W)); the op's
        # definition gives (0, C*r*r, H/r, W/r), which is what we return.
        assert out.shape == (n, c * r * r, h, w)
        return
    expected = F.pixel_unshuffle(x, r)
    assert out.shape == expected.shape
    assert torch.equal(out, expected)
    assert out.is_contiguous(memory_format=_expected_format(x))


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_gradients_match_pytorch(backend, dtype):
    device = backend_device(backend)
    x = random_image((2, 12, 3, 5), dtype, device).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    with ops.use_backend(backend), ops.trace() as events:
        out = ops.pixel_shuffle(x, 2)
        back = ops.pixel_unshuffle(out, 2)
    assert events == [("pixel_shuffle", backend), ("pixel_unshuffle", backend)]
    weights = random_image(back.shape, dtype, device)
    (back * weights).sum().backward()
    (F.pixel_unshuffle(F.pixel_shuffle(x_ref, 2), 2) * weights).sum().backward()
    assert torch.equal(x.grad, x_ref.grad)


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
@pytest.mark.parametrize(
    "op, shape, r",
    [
        ("pixel_shuffle", (2, 4, 1, 1), 2),
        ("pixel_shuffle", (2, 4, 3, 5), 1),
        ("pixel_unshuffle", (2, 1, 2, 2), 2),
        ("pixel_unshuffle", (2, 3, 4, 6), 1),
    ],
    ids=["shuffle_1x1", "shuffle_r1", "unshuffle_to_1x1", "unshuffle_r1"],
)
def test_output_never_shares_the_input_memory(backend, op, shape, r):
    """Where the shuffle moves nothing the reference's reshapes were views of x: writing to the
    output changed the input, and an in-place op on it failed for an x that needs grad."""
    device = backend_device(backend)
    x = random_image(shape, torch.float32, device)
    before = x.clone()
    with ops.use_backend(backend):
        out = getattr(ops, op)(x, r)
        out.fill_(7.0)
        assert torch.equal(x, before)
        leaf = x.clone().requires_grad_()
        getattr(ops, op)(leaf, r).mul_(2.0).sum().backward()
    assert torch.equal(leaf.grad, torch.full_like(x, 2.0))


@pytest.mark.parametrize("backend", backend_params(*ALL_BACKENDS))
def test_bad_input_is_a_clear_error(backend):
    device = backend_device(backend)
    x = random_image((1, 8, 4, 4), torch.float32, device)
    with ops.use_backend(backend):
        with pytest.raises(ValueError, match="r must be a positive integer"):
            ops.pixel_shuffle(x, 0)
        with pytest.raises(ValueError, match="r must be a positive integer"):
            ops.pixel_unshuffle(x, -2)
        with pytest.raises(ValueError, match="not divisible by r\\*r"):
            ops.pixel_shuffle(x, 3)
        with pytest.raises(ValueError, match="divisible by r = 3"):
            ops.pixel_unshuffle(x, 3)
        with pytest.raises(ValueError, match="4-D tensor"):
            ops.pixel_shuffle(x[0], 2)
        with pytest.raises(TypeError, match="dtype int32"):
            ops.pixel_shuffle(x.to(torch.int32), 2)
        with pytest.raises(TypeError, match="r must be an int"):
            ops.pixel_shuffle(x, 2.0)
        with pytest.raises(TypeError, match="x must be a torch.Tensor"):
            ops.pixel_shuffle(x.numpy() if device.type == "cpu" else [1], 2)
        # r*r wrapped to 0 in int64 and the compiled kernels divided by it (SIGFPE).
        empty = random_image((1, 0, 2, 2), torch.float32, device)
        with pytest.raises(ValueError, match="r = 4294967296 is too large"):
            ops.pixel_shuffle(empty, 2**32)
        with pytest.raises(ValueError, match="r = 4294967296 is too large"):
            ops.pixel_unshuffle(random_image((1, 1, 0, 0), torch.float32, device), 2**32)
    assert torch.equal(ops.pixel_shuffle(x, np.int64(2)), F.pixel_shuffle(x, 2))  # NumPy ints


@pytest.mark.parametrize("backend", backend_params("cpu", "cuda"))
def test_compiled_op_checks_its_own_arguments(backend):
    """Direct torch.ops calls bypass the Python checks; the C++ host code must still refuse."""
    device = backend_device(backend)
    x = random_image((1, 8, 4, 4), torch.float32, device)
    with pytest.raises(ValueError, match="argument 'x'"):
        torch.ops.sr_kernels.pixel_shuffle(x, 3)
    with pytest.raises(ValueError, match="argument 'r'"):
        torch.ops.sr_kernels.pixel_shuffle(x, 0)
    with pytest.raises(ValueError, match="4-D"):
        torch.ops.sr_kernels.pixel_unshuffle(x[0], 2)
    with pytest.raises(TypeError, match="argument 'x'"):
        torch.ops.sr_kernels.pixel_shuffle(x.to(torch.int32), 2)
    with pytest.raises(ValueError, match="argument 'r'.*too large"):
        torch.ops.sr_kernels.pixel_shuffle(x[:, :0], 2**32)
    with pytest.raises(ValueError, match="argument 'r'.*too large"):
        torch.ops.sr_kernels.pixel_unshuffle(x[:, :, :0, :0], 2**32)


def test_automatic_choice_on_cpu_never_uses_the_interpreter():
    x = random_image((1, 4, 3, 3), torch.float32)
    with ops.trace() as events:
        ops.pixel_shuffle(x, 2)
    assert events and events[0][1] in ("cpu", "reference")


def test_explicit_unavailable_backend_raises_with_reason():
    x = random_image((1, 4, 3, 3), torch.float32)
    with ops.use_backend("cuda"), pytest.raises(ops.BackendUnavailableError, match="cuda"):
        ops.pixel_shuffle(x, 2)
    with pytest.raises(ValueError, match="backend must be one of"):
        with ops.use_backend("tpu"):
            pass


def test_environment_variable_forces_a_backend(monkeypatch):
    x = random_image((1, 4, 3, 3), torch.float32)
    monkeypatch.setenv("SR_KERNELS_BACKEND", "reference")
    with ops.trace() as events:
        ops.pixel_shuffle(x, 2)
    assert events == [("pixel_shuffle", "reference")]
    monkeypatch.setenv("SR_KERNELS_BACKEND", "nonsense")
    with pytest.raises(ValueError, match="SR_KERNELS_BACKEND"):
        ops.pixel_shuffle(x, 2)


@pytest.mark.parametrize("backend", backend_params("cpu"))
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("r", [2, 3, 4])
@pytest.mark.parametrize("isa", ["auto", "base"])
def test_cpu_channels_last_images_of_many_pixels(backend, dtype, r, isa, monkeypatch):
    """The CPU per-pixel path (channels_last, r = 2..4) works in chunks of 64 pixels split over
    threads: images of 2553 and 1474 pixels (several chunks, a partial last one), odd C; in the
    widest build the processor has and in the baseline one (SR_KERNELS_CPU_ISA=base)."""
    monkeypatch.setenv("SR_KERNELS_CPU_ISA", isa)
    for shape in ((3, 5 * r * r, 37, 23), (2, 17 * r * r, 11, 67)):
        x = random_image(shape, dtype, "cpu").contiguous(memory_format=torch.channels_last)
        with ops.use_backend(backend), ops.trace() as events:
            y = ops.pixel_shuffle(x, r)
            z = ops.pixel_unshuffle(y, r)
        assert ("pixel_shuffle", backend) in events and ("pixel_unshuffle", backend) in events
        assert torch.equal(y, F.pixel_shuffle(x, r)) and torch.equal(z, x)
        assert y.is_contiguous(memory_format=torch.channels_last)
