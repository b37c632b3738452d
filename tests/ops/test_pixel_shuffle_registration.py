"""Registered torch ops: opcheck and torch.compile(fullgraph=True) over the public op."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from _helpers import backend_device, backend_params, random_image

from sr_kernels import ops


def _op_for(backend: str, name: str):
    if backend == "triton":
        import sr_kernels.ops.triton.pixel_shuffle  # noqa: F401  registers the custom ops

        return getattr(torch.ops.sr_kernels, f"{name}_triton")
    import sr_kernels.ops._ext.pixel_shuffle  # noqa: F401  registers the fake kernels + autograd

    return getattr(torch.ops.sr_kernels, name)


@pytest.mark.parametrize("backend", backend_params("cpu", "cuda", "triton"))
@pytest.mark.parametrize("name", ["pixel_shuffle", "pixel_unshuffle"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_opcheck(backend, name, channels_last):
    device = backend_device(backend)
    x = random_image((2, 8, 4, 6), torch.float32, device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    torch.library.opcheck(_op_for(backend, name), (x.requires_grad_(), 2))


@pytest.mark.parametrize("backend", backend_params("cpu", "triton", "cuda"))
def test_torch_compile_fullgraph(backend):
    device = backend_device(backend)
    torch._dynamo.reset()

    def upsample(x):
        return ops.pixel_unshuffle(ops.pixel_shuffle(x * 2.0, 2) + 1.0, 2)

    x = random_image((1, 8, 5, 3), torch.float32, device)
    with ops.use_backend(backend), ops.trace() as events:
        compiled = torch.compile(upsample, fullgraph=True, backend="inductor")
        out = compiled(x)
    expected = F.pixel_unshuffle(F.pixel_shuffle(x * 2.0, 2) + 1.0, 2)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    assert ("pixel_shuffle", backend) in events
