"""The conv ops under torch.autocast: they cast like F.conv2d does (floating tensors other than
float64 to the autocast dtype), so mixed-precision training code calls them with float32
parameters, and the gradients reach those parameters in float32."""

from __future__ import annotations

import pytest
import torch
from _helpers import (
    FLOORS,
    backend_device,
    backend_params,
    edsr_parameters,
    random_image,
    relative_error,
)

from sr_kernels import ops
from sr_kernels.ops import _registry

C = 16


def _parameters(device: torch.device) -> dict[str, torch.Tensor]:
    return {k: t.requires_grad_() for k, t in edsr_parameters(C, device, seed=5).items()}


# op -> (input channels, names of its parameters, call)
CASES = {
    "residual_block": (
        C,
        ("w1", "b1", "w2", "b2"),
        lambda x, w1, b1, w2, b2: ops.residual_block(x, w1, b1, w2, b2, 0.1),
    ),
    "conv2d_act": (3, ("head_w", "head_b"), lambda x, w, b: ops.conv2d_act(x, w, b)),
    "conv_pixel_shuffle": (
        C,
        ("up_w", "up_b"),
        lambda x, w, b: ops.conv_pixel_shuffle(x, w, b, 2),
    ),
}


def _autocast_dtypes(backend: str) -> list[torch.dtype]:
    if backend_device(backend).type == "cuda":
        return [torch.float16, torch.bfloat16]
    if backend == "triton":  # the interpreter has no bfloat16
        return [torch.float16]
    return [torch.float16, torch.bfloat16]


@pytest.mark.parametrize("backend", backend_params("reference", "triton", "cuda"))
@pytest.mark.parametrize("op", list(CASES))
def test_autocast_casts_like_conv2d(op, backend):
    if backend not in _registry._OPS[op].modules:
        pytest.skip(f"{op} has no {backend} backend")
    device = backend_device(backend)
    channels, names, call = CASES[op]
    params = _parameters(device)
    weights = [params[name] for name in names]
    x = random_image((2, channels, 9, 11), torch.float32, device).requires_grad_()
    for dtype in _autocast_dtypes(backend):
        with ops.use_backend(backend):
            with torch.autocast(device.type, dtype=dtype), ops.trace() as events:
                out = call(x, *weights)
            # What autocast does for F.conv2d, written out: cast, then the op in that dtype.
            expected = call(x.to(dtype), *(w.to(dtype) for w in weights))
        assert (op, backend) in events
        assert out.dtype == dtype
        assert torch.equal(out, expected)
        inputs = [x, *weights]
        grads = torch.autograd.grad(out.float().square().sum(), inputs)
        expected_grads = torch.autograd.grad(expected.float().square().sum(), inputs)
        for name, grad, expected_grad in zip(["x", *names], grads, expected_grads):
            assert grad.dtype == torch.float32, name
            if device.type == "cuda":  # cuDNN's gradient kernels may sum in another order
                error = relative_error(grad, expected_grad)
                assert error <= FLOORS[dtype], f"{name}: relative error {error:.2e}"
            else:
                assert torch.equal(grad, expected_grad), name


def test_autocast_leaves_float64_alone():
    """As for F.conv2d: autocast does not cast float64 tensors."""
    params = _parameters(torch.device("cpu"))
    weights = [params[name].detach().double() for name in ("w1", "b1", "w2", "b2")]
    x = random_image((1, C, 5, 6), torch.float64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = ops.residual_block(x, *weights, 0.1)
    assert out.dtype == torch.float64
    assert torch.equal(out, ops.residual_block(x, *weights, 0.1))


def test_float64_mixed_with_float32_under_autocast_says_why():
    """A float64 x with float32 parameters stays mixed under autocast (the parameters are cast,
    x is not): the error says so."""
    params = _parameters(torch.device("cpu"))
    x = random_image((1, 3, 5, 6), torch.float64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with pytest.raises(TypeError, match=r"has dtype bfloat16 but x has float64.*never float64"):
            ops.conv2d_act(x, params["head_w"], params["head_b"])
    with pytest.raises(TypeError, match=r"must have x's dtype$"):  # no autocast: no hint
        ops.conv2d_act(x, params["head_w"], params["head_b"])


def test_autocast_for_another_device_changes_nothing():
    params = _parameters(torch.device("cpu"))
    x = random_image((1, 3, 5, 6), torch.float32)
    with torch.autocast("cuda", dtype=torch.float16, enabled=torch.cuda.is_available()):
        out = ops.conv2d_act(x, params["head_w"], params["head_b"])
    assert out.dtype == torch.float32


def test_autocast_under_torch_compile():
    params = _parameters(torch.device("cpu"))
    weights = [params[name] for name in ("w1", "b1", "w2", "b2")]
    x = random_image((2, C, 7, 5), torch.float32)

    def block(x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return ops.residual_block(x, *weights, 0.1)

    torch._dynamo.reset()
    with ops.use_backend("reference"):
        out = torch.compile(block, fullgraph=True, backend="aot_eager")(x)
        expected = block(x)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
