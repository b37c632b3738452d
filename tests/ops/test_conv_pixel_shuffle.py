"""conv_pixel_shuffle: every backend against a float64 reference, gradients, opcheck, errors."""

from __future__ import annotations

import pytest
import torch
from _conv_cases import floor_key as _key
from _conv_cases import grad_floor_key as _grad_key
from _helpers import (
    assert_close_to_reference,
    assert_partial_gradients_match,
    backend_device,
    backend_params,
    laid_out,
    random_image,
    runs_on,
)

from sr_kernels import ops
from sr_kernels.ops import _registry
from sr_kernels.ops.reference import conv_pixel_shuffle as reference

BACKENDS = ("reference", "cpu", "triton", "cuda")


def _params(c_in, c, r, dtype, device):
    gen = torch.Generator().manual_seed(c_in * 10 + c + r)
    w = torch.randn(c * r * r, c_in, 3, 3, generator=gen, dtype=torch.float64) / (3 * c_in**0.5)
    b = torch.rand(c * r * r, generator=gen, dtype=torch.float64) - 0.5
    return w.to(dtype=dtype, device=device), b.to(dtype=dtype, device=device)


def _skip_if_cuda_refuses(backend, x, w, r):
    """The CUDA kernel serves fp16/bf16, C_in % 16 == 0 and C_out a multiple of its channel
    block: other combinations are skipped with its own reason (`test_cuda_refuses_*` checks that
    forcing it raises)."""
    if backend != "cuda":
        return
    from sr_kernels.ops._ext import conv_pixel_shuffle as cuda_backend

    meta = _registry.tensor_meta(x, channels=x.shape[1], out_channels=w.shape[0], r=r)
    reason = cuda_backend.supports(meta)
    if reason is not None:
        pytest.skip(f"cuda backend: {reason}")


# (N, C_in, C, H, W): 16 -> 16 (aligned, vectorised variant), 16 -> 3 (an RGB ESPCN-style
# output, unaligned variant), 3 -> 4 (flat-K path), odd sizes, a 1x1 image, batch 0.
CASES = [(2, 16, 16, 7, 5), (1, 16, 3, 5, 9), (1, 3, 4, 6, 3), (1, 16, 16, 1, 1), (0, 16, 16, 3, 3)]


@pytest.mark.parametrize("backend", backend_params(*BACKENDS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("r", [2, 3])
@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("layout", ["channels_last", "contiguous", "permuted"])
def test_forward_matches_float64_reference(backend, dtype, r, case, layout):
    n, c_in, c, h, w = case
    device = backend_device(backend)
    if backend == "triton" and device.type == "cpu" and dtype == torch.bfloat16:
        pytest.skip("bfloat16 does not run under the Triton interpreter (GPU test covers it)")
    x = laid_out(random_image((n, c_in, h, w), dtype, device), layout)
    wt, b = _params(c_in, c, r, dtype, device)
    _skip_if_cuda_refuses(backend, x, wt, r)
    with ops.use_backend(backend), ops.trace() as events:
        out = ops.conv_pixel_shuffle(x, wt, b, r)
    assert ("conv_pixel_shuffle", backend) in events
    assert out.shape == (n, c, h * r, w * r) and out.dtype == dtype
    if n == 0:
        return
    nhwc = layout == "channels_last" and not x.is_contiguous()  # a 1x1 image is both: NCHW
    fmt = torch.channels_last if nhwc else torch.contiguous_format
    assert out.is_contiguous(memory_format=fmt)
    ref64 = reference.conv_pixel_shuffle(x.double().cpu(), wt.double().cpu(), b.double().cpu(), r)
    same = reference.conv_pixel_shuffle(x.cpu(), wt.cpu(), b.cpu(), r)
    assert_close_to_reference(out, ref64, same, _key(backend, dtype, device))


@pytest.mark.parametrize("backend", backend_params(*BACKENDS))
@pytest.mark.parametrize("r", [2, 3])
def test_gradients_match_reference_autograd(backend, r):
    device = backend_device(backend)
    x = random_image((2, 16, 5, 4), torch.float32, device).contiguous(
        memory_format=torch.channels_last
    )
    wt, b = _params(16, 4, r, torch.float32, device)
    _skip_if_cuda_refuses(backend, x, wt, r)  # fp32 (cuda: test_conv_cuda checks fp16/bf16)
    inputs = [t.clone().requires_grad_() for t in (x, wt, b)]
    with runs_on(backend, "conv_pixel_shuffle"):
        out = ops.conv_pixel_shuffle(*inputs, r)
    weights = random_image(out.shape, torch.float32, device)
    grads = torch.autograd.grad((out * weights).sum(), inputs)
    inputs64 = [t.detach().double().cpu().requires_grad_() for t in inputs]
    grads64 = torch.autograd.grad(
        (reference.conv_pixel_shuffle(*inputs64, r) * weights.double().cpu()).sum(), inputs64
    )
    for g, g64 in zip(grads, grads64):
        assert_close_to_reference(g, g64, None, _grad_key(backend, device))


def test_gradcheck_reference_float64():
    x = torch.rand(1, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    w, b = (t.requires_grad_() for t in _params(2, 2, 2, torch.float64, "cpu"))
    assert torch.autograd.gradcheck(
        lambda *a: reference.conv_pixel_shuffle(*a, 2), (x, w, b), eps=1e-6, atol=1e-6
    )


@pytest.mark.parametrize("r", [2, 3])
@pytest.mark.parametrize("backend", backend_params("cpu"))
def test_gradcheck_extension_op_float64(backend, r):
    """The extension op's C++ autograd formula (shared by its CPU and CUDA kernels:
    pixel_unshuffle, then the convolution's gradients) against finite differences, first and
    second order, through the CPU kernel."""
    x = torch.rand(1, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    w, b = (t.requires_grad_() for t in _params(2, 2, r, torch.float64, "cpu"))

    def upsample(*args):
        return torch.ops.sr_kernels.conv_pixel_shuffle(*args, r)

    assert torch.autograd.gradcheck(upsample, (x, w, b), eps=1e-6, atol=1e-6)
    assert torch.autograd.gradgradcheck(upsample, (x, w, b), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("needs", ["x", "w", "b", "w_b"])
@pytest.mark.parametrize("backend", backend_params("cpu"))
def test_extension_backward_computes_only_what_is_needed(backend, needs):
    """Gradients for a subset of the inputs equal the reference's; the others stay None."""
    x = random_image((1, 4, 5, 6), torch.float64, torch.device("cpu"))
    assert_partial_gradients_match(
        torch.ops.sr_kernels.conv_pixel_shuffle,
        reference.conv_pixel_shuffle,
        [x, *_params(4, 2, 2, torch.float64, "cpu")],
        ("x", "w", "b"),
        needs.split("_"),
        2,
    )


@pytest.mark.parametrize("needs", ["x", "w", "b", "w_b"])
@pytest.mark.parametrize("backend", backend_params("triton"))
def test_triton_backward_computes_only_what_is_needed(backend, needs):
    """Gradients for a subset of the inputs equal the reference's, and the Triton op's backward
    asks convolution_backward for those only (it computed all three)."""
    device = backend_device(backend)
    x = random_image((1, 16, 5, 6), torch.float32, device)

    def upsample(*args):
        with ops.use_backend(backend):
            return ops.conv_pixel_shuffle(*args)

    assert_partial_gradients_match(
        upsample,
        reference.conv_pixel_shuffle,
        [x, *_params(16, 4, 2, torch.float32, device)],
        ("x", "w", "b"),
        needs.split("_"),
        2,
        key=_grad_key(backend, device),
        masks=[tuple(name in needs.split("_") for name in ("x", "w", "b"))],
    )


@pytest.mark.parametrize("backend", backend_params(*BACKENDS))
def test_backward_on_an_empty_batch(backend):
    """N = 0: the gradients are an empty x gradient and zero weight and bias gradients
    (F.pixel_shuffle's backward kept the empty batch's shape, which autograd refused)."""
    device = backend_device(backend)
    x = random_image((0, 16, 5, 7), torch.float32, device).requires_grad_()
    w, b = [t.requires_grad_() for t in _params(16, 4, 2, torch.float32, device)]
    _skip_if_cuda_refuses(backend, x, w, 2)
    with ops.use_backend(backend), ops.trace() as events:
        out = ops.conv_pixel_shuffle(x, w, b, 2)
    assert ("conv_pixel_shuffle", backend) in events
    assert out.shape == (0, 4, 10, 14)
    out.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape
    assert torch.equal(w.grad, torch.zeros_like(w)) and torch.equal(b.grad, torch.zeros_like(b))


@pytest.mark.parametrize("backend", backend_params("cpu"))
def test_extension_cpu_kernel_names_bad_arguments(backend):
    """A direct torch.ops call (no Python validation) is refused by the C++ checks."""
    x = random_image((1, 4, 3, 3), torch.float32, torch.device("cpu"))
    w, b = _params(4, 2, 2, torch.float32, "cpu")
    op = torch.ops.sr_kernels.conv_pixel_shuffle
    with pytest.raises(ValueError, match="argument 'w': expected shape"):
        op(x, w[:6], b[:6], 2)
    with pytest.raises(ValueError, match="argument 'r': expected a positive"):
        op(x, w, b, 0)
    with pytest.raises(TypeError, match="argument 'b': expected dtype"):
        op(x, w, b.double(), 2)
    with pytest.raises(TypeError, match="argument 'x': expected a floating dtype"):
        op(x.to(torch.int64), w, b, 2)


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("backend", backend_params("cpu"))
def test_opcheck_extension_op_on_cpu(backend, channels_last):
    x = random_image((2, 5, 4, 3), torch.float32, torch.device("cpu"))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    w, b = _params(5, 3, 2, torch.float32, "cpu")
    op = torch.ops.sr_kernels.conv_pixel_shuffle.default
    torch.library.opcheck(op, (x, w, b, 2))
    torch.library.opcheck(op, (*(t.clone().requires_grad_() for t in (x, w, b)), 2))


@pytest.mark.parametrize("backend", backend_params("triton"))
def test_opcheck_triton_op(backend):
    import sr_kernels.ops.triton.conv_pixel_shuffle  # noqa: F401  registers the custom op

    device = backend_device(backend)
    x = random_image((1, 16, 3, 4), torch.float32, device).contiguous(
        memory_format=torch.channels_last
    )
    w, b = (t.requires_grad_() for t in _params(16, 4, 2, torch.float32, device))
    torch.library.opcheck(
        torch.ops.sr_kernels.conv_pixel_shuffle_triton,
        (x.requires_grad_(), w, b, 2, True),
        test_utils=("test_schema", "test_autograd_registration", "test_faketensor"),
    )


@pytest.mark.parametrize("backend", backend_params(*BACKENDS))
def test_bad_input_is_a_clear_error(backend):
    device = backend_device(backend)
    x = random_image((1, 16, 4, 4), torch.float32, device)
    w, b = _params(16, 4, 2, torch.float32, device)
    with ops.use_backend(backend):
        with pytest.raises(ValueError, match="r must be 2 or 3"):
            ops.conv_pixel_shuffle(x, w, b, 4)
        with pytest.raises(TypeError, match="r must be an int"):
            ops.conv_pixel_shuffle(x, w, b, 2.0)
        with pytest.raises(ValueError, match=r"w must have shape \(C\*r\*r, C_in, 3, 3\)"):
            ops.conv_pixel_shuffle(x, w, b, 3)
        with pytest.raises(ValueError, match="w must have shape"):
            ops.conv_pixel_shuffle(x, w[:, :8], b, 2)
        with pytest.raises(ValueError, match=r"b must have shape \(C\*r\*r,\)"):
            ops.conv_pixel_shuffle(x, w, b[:5], 2)
        with pytest.raises(TypeError, match="b has dtype float16 but x has float32"):
            ops.conv_pixel_shuffle(x, w, b.half(), 2)
        with pytest.raises(ValueError, match="x must be a 4-D tensor"):
            ops.conv_pixel_shuffle(x[0], w, b, 2)


@pytest.mark.parametrize("backend", backend_params(*BACKENDS))
def test_empty_channels_or_plane_is_a_clear_error(backend):
    """H or W = 0 used to fail inside F.conv2d ("Calculated padded input size"), C_in = 0
    returned zeros-from-bias silently, C = 0 failed in F.conv2d. Batch 0 stays valid."""
    device = backend_device(backend)
    w, b = _params(16, 4, 2, torch.float32, device)
    with ops.use_backend(backend):
        with pytest.raises(ValueError, match=r"x must have at least one channel, got shape"):
            ops.conv_pixel_shuffle(
                torch.zeros(1, 0, 4, 4, device=device),
                torch.zeros(16, 0, 3, 3, device=device),
                b,
                2,
            )
        for shape in [(1, 16, 0, 4), (1, 16, 4, 0)]:
            with pytest.raises(ValueError, match=r"x must have height and width >= 1, got shape"):
                ops.conv_pixel_shuffle(torch.zeros(shape, device=device), w, b, 2)
        x = random_image((1, 16, 4, 4), torch.float32, device)
        with pytest.raises(ValueError, match=r"w must have at least one output channel"):
            ops.conv_pixel_shuffle(x, w[:0], b[:0], 2)


def test_numpy_integer_upscale_factor():
    """r from a NumPy computation (np.int64) is an int like any other; np.bool_ is not."""
    np = pytest.importorskip("numpy")
    x = random_image((1, 16, 4, 5), torch.float32)
    w, b = _params(16, 4, 2, torch.float32, "cpu")
    with ops.use_backend("reference"):
        torch.testing.assert_close(
            ops.conv_pixel_shuffle(x, w, b, np.int64(2)),
            ops.conv_pixel_shuffle(x, w, b, 2),
            rtol=0,
            atol=0,
        )
        for bad in (True, np.bool_(True), np.float64(2.0)):
            with pytest.raises(TypeError, match="r must be an int"):
                ops.conv_pixel_shuffle(x, w, b, bad)


@pytest.mark.cuda
@pytest.mark.parametrize("backend", backend_params("triton", "cuda"))
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32], ids=str)
@pytest.mark.parametrize("r", [2, 3])
@pytest.mark.parametrize("c", [64, 256])
def test_gpu_upsampler_shapes(backend, dtype, r, c):
    device = backend_device(backend)
    x = random_image((2, c, 37, 53), dtype, device).contiguous(memory_format=torch.channels_last)
    wt, b = _params(c, 64, r, dtype, device)
    _skip_if_cuda_refuses(backend, x, wt, r)
    with ops.use_backend(backend), ops.trace() as events:
        out = ops.conv_pixel_shuffle(x, wt, b, r)
    assert ("conv_pixel_shuffle", backend) in events
    ref64 = reference.conv_pixel_shuffle(x.double(), wt.double(), b.double(), r)
    # The same-dtype bound from the CPU: cuDNN's fp32 convolutions use TF32 by default.
    same = reference.conv_pixel_shuffle(x.cpu(), wt.cpu(), b.cpu(), r)
    assert_close_to_reference(out, ref64, same, _key(backend, dtype, device))


@pytest.mark.cuda
@pytest.mark.parametrize("backend", backend_params("cuda"))
def test_cuda_refuses_float32_and_unaligned_channels(backend):
    """Forcing the CUDA backend on what it cannot serve raises, naming the reason."""
    device = backend_device(backend)
    x = random_image((1, 16, 5, 4), torch.float32, device)
    wt, b = _params(16, 16, 2, torch.float32, device)
    with ops.use_backend(backend), pytest.raises(ops.BackendUnavailableError, match="float32"):
        ops.conv_pixel_shuffle(x, wt, b, 2)
    wt, b = _params(16, 3, 2, torch.float16, device)  # C_out = 3: not a channel block multiple
    with ops.use_backend(backend), pytest.raises(ops.BackendUnavailableError, match="C_out"):
        ops.conv_pixel_shuffle(x.half(), wt, b, 2)
