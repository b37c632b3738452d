"""conv2d_act: every backend against a float64 reference (SRCNN/EDSR layer shapes), gradients."""

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
from sr_kernels.ops.reference import conv2d_act as reference

BACKENDS = ("reference", "triton")

# (C_in, C_out, k, padding_mode, activation): EDSR head 3->C and tail C->3, SRCNN 9x9 / 1x1 /
# 5x5 with replicate padding, a 16-channel-aligned 3x3 (per-size, vectorised variant).
LAYERS = [
    (3, 16, 3, "zeros", "none"),
    (16, 3, 3, "zeros", "none"),
    (1, 16, 9, "replicate", "relu"),
    (16, 8, 1, "replicate", "relu"),
    (8, 1, 5, "replicate", "none"),
    (16, 32, 3, "zeros", "relu"),
    (32, 16, 5, "zeros", "relu"),
]


def _params(c_in, c_out, k, dtype, device):
    gen = torch.Generator().manual_seed(c_in * 100 + c_out * 10 + k)
    w = torch.randn(c_out, c_in, k, k, generator=gen, dtype=torch.float64) / (k * c_in**0.5)
    b = torch.rand(c_out, generator=gen, dtype=torch.float64) - 0.5
    return w.to(dtype=dtype, device=device), b.to(dtype=dtype, device=device)


@pytest.mark.parametrize("backend", backend_params(*BACKENDS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("layer", LAYERS, ids=str)
@pytest.mark.parametrize("layout", ["channels_last", "contiguous", "permuted"])
def test_forward_matches_float64_reference(backend, dtype, layer, layout):
    c_in, c_out, k, padding_mode, activation = layer
    device = backend_device(backend)
    if backend == "triton" and device.type == "cpu" and dtype == torch.bfloat16:
        pytest.skip("bfloat16 does not run under the Triton interpreter (GPU test covers it)")
    x = laid_out(random_image((2, c_in, 11, 13), dtype, device), layout)
    w, b = _params(c_in, c_out, k, dtype, device)
    with ops.use_backend(backend), ops.trace() as events:
        out = ops.conv2d_act(x, w, b, padding_mode=padding_mode, activation=activation)
    assert ("conv2d_act", backend) in events
    assert out.shape == (2, c_out, 11, 13) and out.dtype == dtype
    nhwc = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    assert out.is_contiguous(memory_format=torch.channels_last if nhwc else torch.contiguous_format)
    ref64 = reference.conv2d_act(
        x.double().cpu(), w.double().cpu(), b.double().cpu(), padding_mode, activation
    )
    same = reference.conv2d_act(x.cpu(), w.cpu(), b.cpu(), padding_mode, activation)
    assert_close_to_reference(out, ref64, same, _key(backend, dtype, device))


@pytest.mark.parametrize("backend", backend_params(*BACKENDS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=str)
@pytest.mark.parametrize("shape", [(2, 64, 1, 1), (1, 64, 5, 1), (2, 64, 9, 7)], ids=str)
def test_pointwise_conv_with_nchw_weight(backend, dtype, shape):
    """An aligned 1x1 conv (64 -> 64) with nn.Conv2d's NCHW weight, images with H or W of 1:
    PyTorch keeps strides of 1 on such size-1 dimensions (the weight counts as channels_last
    already), which the launcher must not pass on: Triton specialises arguments equal to 1 and
    would compile variants the static spill check never compiled."""
    device = backend_device(backend)
    x = random_image(shape, dtype, device).contiguous(memory_format=torch.channels_last)
    w, b = _params(64, 64, 1, dtype, device)
    assert w.is_contiguous(memory_format=torch.channels_last) and w.stride(3) == 1
    with ops.use_backend(backend), ops.trace() as events:
        out = ops.conv2d_act(x, w, b)
    assert ("conv2d_act", backend) in events
    ref64 = reference.conv2d_act(x.double().cpu(), w.double().cpu(), b.double().cpu())
    same = reference.conv2d_act(x.cpu(), w.cpu(), b.cpu())
    assert_close_to_reference(out, ref64, same, _key(backend, dtype, device))


@pytest.mark.cuda
@pytest.mark.parametrize("backend", backend_params("triton"))
def test_gpu_offsets_past_2_to_the_31(backend):
    """A 256 -> 256 3x3 conv of nine 1080p images (bf16): the last image starts at 4.2e9
    elements (64-bit offsets). Only the last image is compared, with eager on it alone."""
    device = backend_device(backend)
    dtype = torch.bfloat16
    first = random_image((1, 256, 1080, 1920), dtype, device)
    x = torch.cat([first.roll(7 * i, dims=3) for i in range(9)])
    x = x.contiguous(memory_format=torch.channels_last)
    w, b = _params(256, 256, 3, dtype, device)
    with ops.use_backend(backend), ops.trace() as events:
        out = ops.conv2d_act(x, w, b)
    assert ("conv2d_act", backend) in events
    last = x[8:9]
    del x
    ref64 = reference.conv2d_act(last.double(), w.double(), b.double())
    same = reference.conv2d_act(last, w, b)
    assert_close_to_reference(out[8:9], ref64, same, _key(backend, dtype, device))


@pytest.mark.parametrize("backend", backend_params(*BACKENDS))
def test_nan_spreads_like_the_reference(backend):
    """A NaN pixel reaches the same outputs as in eager PyTorch (ReLU keeps NaN)."""
    device = backend_device(backend)
    x = random_image((1, 16, 12, 10), torch.float16, device)
    x[0, 3, 5, 4] = float("nan")
    w, b = _params(16, 32, 3, torch.float16, device)
    with ops.use_backend(backend), ops.trace() as events:
        out = ops.conv2d_act(x, w, b)
    assert ("conv2d_act", backend) in events
    expected = reference.conv2d_act(x.double().cpu(), w.double().cpu(), b.double().cpu())
    assert expected.isnan().any() and not expected.isnan().all()
    assert torch.equal(out.isnan().cpu(), expected.isnan())


@pytest.mark.parametrize("backend", backend_params(*BACKENDS))
def test_gradient_past_a_nan_output_like_the_reference(backend, monkeypatch):
    """Where the output is NaN, ReLU's backward (threshold_backward) passes the gradient on; a
    `where(out > 0, ...)` mask dropped it, so grad_x differed next to a NaN pixel."""
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # GPU: cuDNN backward
    device = backend_device(backend)
    x = random_image((1, 16, 6, 5), torch.float32, device)
    x[0, 3, 2, 2] = float("nan")
    w, b = _params(16, 16, 3, torch.float32, device)

    def grad_x(conv, *args):
        inputs = [t.detach().clone().requires_grad_() for t in args]
        return torch.autograd.grad(conv(*inputs).sum(), inputs[0])[0]

    with runs_on(backend, "conv2d_act"):
        ours = grad_x(ops.conv2d_act, x, w, b)
    expected = grad_x(reference.conv2d_act, x.double().cpu(), w.double().cpu(), b.double().cpu())
    assert torch.isfinite(expected).all()
    assert_close_to_reference(ours, expected, None, _grad_key(backend, device))


@pytest.mark.parametrize("padding_mode", ["zeros", "replicate"])
@pytest.mark.parametrize("needs", ["x", "w", "b", "w_b"])
@pytest.mark.parametrize("backend", backend_params("triton"))
def test_triton_backward_computes_only_what_is_needed(backend, needs, padding_mode):
    """Gradients for a subset of the inputs equal the reference's, and the Triton op's backward
    asks convolution_backward for those only (it computed all three)."""
    device = backend_device(backend)
    x = random_image((1, 16, 6, 5), torch.float32, device)

    def conv(*args):
        with ops.use_backend(backend):
            return ops.conv2d_act(*args, padding_mode=padding_mode)

    assert_partial_gradients_match(
        conv,
        lambda *args: reference.conv2d_act(*args, padding_mode, "relu"),
        [x, *_params(16, 8, 3, torch.float32, device)],
        ("x", "w", "b"),
        needs.split("_"),
        key=_grad_key(backend, device),
        masks=[tuple(name in needs.split("_") for name in ("x", "w", "b"))],
    )


@pytest.mark.parametrize("backend", backend_params(*BACKENDS))
def test_small_images_and_batch_zero(backend):
    device = backend_device(backend)
    w, b = _params(16, 16, 3, torch.float32, device)
    for shape in [(1, 16, 1, 1), (1, 16, 2, 3), (0, 16, 5, 5)]:
        x = random_image(shape, torch.float32, device).contiguous(memory_format=torch.channels_last)
        with ops.use_backend(backend):
            out = ops.conv2d_act(x, w, b, padding_mode="replicate")
        assert out.shape == shape
        if shape[0]:
            ref = reference.conv2d_act(
                x.double().cpu(), w.double().cpu(), b.double().cpu(), "replicate", "relu"
            )
            assert_close_to_reference(out, ref, None, _key(backend, torch.float32, device))


@pytest.mark.parametrize("backend", backend_params(*BACKENDS))
@pytest.mark.parametrize("padding_mode", ["zeros", "replicate"])
def test_gradients_match_reference_autograd(backend, padding_mode):
    device = backend_device(backend)
    x = random_image((2, 3, 7, 6), torch.float32, device)
    w, b = _params(3, 16, 3, torch.float32, device)
    inputs = [t.clone().requires_grad_() for t in (x, w, b)]
    with runs_on(backend, "conv2d_act"):
        out = ops.conv2d_act(*inputs, padding_mode=padding_mode, activation="relu")
    weights = random_image(out.shape, torch.float32, device)
    grads = torch.autograd.grad((out * weights).sum(), inputs)
    inputs64 = [t.detach().double().cpu().requires_grad_() for t in inputs]
    out64 = reference.conv2d_act(*inputs64, padding_mode, "relu")
    grads64 = torch.autograd.grad((out64 * weights.double().cpu()).sum(), inputs64)
    for g, g64 in zip(grads, grads64):
        assert_close_to_reference(g, g64, None, _grad_key(backend, device))


@pytest.mark.parametrize("padding_mode", ["zeros", "replicate"])
def test_gradcheck_reference_float64(padding_mode):
    x = torch.rand(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    w, b = (t.requires_grad_() for t in _params(2, 3, 3, torch.float64, "cpu"))
    assert torch.autograd.gradcheck(
        lambda *a: reference.conv2d_act(*a, padding_mode, "relu"), (x, w, b), eps=1e-6, atol=1e-6
    )


@pytest.mark.parametrize("backend", backend_params("triton"))
@pytest.mark.parametrize("padding_mode", ["zeros", "replicate"])
def test_opcheck_triton_op(backend, padding_mode):
    import sr_kernels.ops.triton.conv2d_act  # noqa: F401  registers the custom op

    device = backend_device(backend)
    x = random_image((1, 3, 5, 4), torch.float32, device)
    w, b = (t.requires_grad_() for t in _params(3, 16, 3, torch.float32, device))
    torch.library.opcheck(
        torch.ops.sr_kernels.conv2d_act_triton,
        (x.requires_grad_(), w, b, padding_mode, "relu", True),
        test_utils=("test_schema", "test_autograd_registration", "test_faketensor"),
    )


@pytest.mark.parametrize("backend", backend_params("reference", "triton"))
def test_bad_input_is_a_clear_error(backend):
    device = backend_device(backend)
    x = random_image((1, 3, 4, 4), torch.float32, device)
    w, b = _params(3, 16, 3, torch.float32, device)
    with ops.use_backend(backend):
        with pytest.raises(ValueError, match="w must have shape"):
            ops.conv2d_act(x, w[:, :2], b)
        with pytest.raises(ValueError, match="odd square kernel"):
            ops.conv2d_act(x, torch.zeros(16, 3, 2, 2, device=device), b)
        with pytest.raises(ValueError, match=r"b must have shape \(C_out,\)"):
            ops.conv2d_act(x, w, b[:4])
        with pytest.raises(TypeError, match="w has dtype float16 but x has float32"):
            ops.conv2d_act(x, w.half(), b)
        with pytest.raises(ValueError, match="x must be a 4-D tensor"):
            ops.conv2d_act(x[0], w, b)
        with pytest.raises(ValueError, match="padding_mode must be one of"):
            ops.conv2d_act(x, w, b, padding_mode="reflect")
        with pytest.raises(ValueError, match="activation must be one of"):
            ops.conv2d_act(x, w, b, activation="gelu")


@pytest.mark.parametrize("backend", backend_params(*BACKENDS))
@pytest.mark.parametrize("padding_mode", ["zeros", "replicate"])
def test_empty_channels_or_plane_is_a_clear_error(backend, padding_mode):
    """C_in = 0 used to return a (N, 0, H, W) result (F.conv2d's quirk) instead of C_out
    channels; H or W = 0 and C_out = 0 failed inside F.conv2d / F.pad. Batch 0 stays valid."""
    device = backend_device(backend)
    w, b = _params(3, 4, 3, torch.float32, device)
    empty_w = torch.zeros(4, 0, 3, 3, device=device)
    with ops.use_backend(backend):
        with pytest.raises(
            ValueError, match=r"x must have at least one channel, got shape \(2, 0, 5, 6\)"
        ):
            ops.conv2d_act(torch.zeros(2, 0, 5, 6, device=device), empty_w, b, padding_mode)
        for shape in [(2, 3, 0, 6), (2, 3, 5, 0), (0, 3, 0, 0)]:
            x = torch.zeros(shape, device=device)
            with pytest.raises(ValueError, match=r"x must have height and width >= 1, got shape"):
                ops.conv2d_act(x, w, b, padding_mode)
        x = random_image((2, 3, 5, 6), torch.float32, device)
        with pytest.raises(ValueError, match=r"w must have at least one output channel"):
            ops.conv2d_act(x, w[:0], b[:0], padding_mode)
        out = ops.conv2d_act(x[:0], w, b, padding_mode)
    assert out.shape == (0, 4, 5, 6)


def test_triton_reports_unsupported_kernel_size():
    x = random_image((1, 3, 8, 8), torch.float32)
    w, b = _params(3, 4, 7, torch.float32, "cpu")
    with (
        ops.use_backend("triton"),
        pytest.raises(ops.BackendUnavailableError, match="kernel size 7"),
    ):
        ops.conv2d_act(x, w, b)
    with ops.trace() as events:
        ops.conv2d_act(x, w, b)
    assert events == [("conv2d_act", "reference")]


@pytest.mark.cuda
@pytest.mark.parametrize("backend", backend_params("triton"))
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32], ids=str)
@pytest.mark.parametrize(
    "layer", LAYERS + [(64, 64, 3, "zeros", "relu"), (64, 3, 3, "zeros", "none")], ids=str
)
def test_gpu_layers(backend, dtype, layer):
    c_in, c_out, k, padding_mode, activation = layer
    device = backend_device(backend)
    x = random_image((2, c_in, 67, 91), dtype, device).contiguous(memory_format=torch.channels_last)
    w, b = _params(c_in, c_out, k, dtype, device)
    with ops.use_backend(backend), ops.trace() as events:
        out = ops.conv2d_act(x, w, b, padding_mode=padding_mode, activation=activation)
    assert ("conv2d_act", backend) in events
    ref64 = reference.conv2d_act(x.double(), w.double(), b.double(), padding_mode, activation)
    # The same-dtype bound from the CPU: cuDNN's fp32 convolutions use TF32 by default, whose
    # ~6e-4 error would let single-pass TF32 (or worse) pass for fp32.
    same = reference.conv2d_act(x.cpu(), w.cpu(), b.cpu(), padding_mode, activation)
    assert_close_to_reference(out, ref64, same, _key(backend, dtype, device))
