"""imresize's registered torch ops: opcheck, torch.compile(fullgraph=True), C++ == Python tables."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _helpers import backend_device, backend_params, random_image

from sr_kernels import ops
from sr_kernels.ops import _cubic


def _ops_for(backend: str):
    if backend == "triton":
        import sr_kernels.ops.triton.imresize  # noqa: F401  registers the custom ops

        return torch.ops.sr_kernels.imresize_triton, torch.ops.sr_kernels.imresize_backward_triton
    import sr_kernels.ops._ext.imresize  # noqa: F401  registers fake + autograd

    return torch.ops.sr_kernels.imresize, torch.ops.sr_kernels.imresize_backward


@pytest.mark.parametrize("backend", backend_params("cpu", "cuda", "triton"))
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.uint8], ids=str)
def test_opcheck(backend, channels_last, dtype):
    forward, backward = _ops_for(backend)
    device = backend_device(backend)
    x = random_image((2, 3, 7, 6), dtype, device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    if dtype.is_floating_point:
        x.requires_grad_()
    torch.library.opcheck(forward, (x, 4, 15, 0.5, 2.5, True, "mirror"))
    if dtype.is_floating_point:
        grad = random_image((2, 3, 4, 15), dtype, device).requires_grad_()
        torch.library.opcheck(backward, (grad, 7, 6, 0.5, 2.5, True, "clamp"))


@pytest.mark.parametrize("backend", backend_params("reference", "cpu", "triton", "cuda"))
def test_torch_compile_fullgraph(backend):
    device = backend_device(backend)
    torch._dynamo.reset()

    def pipeline(x):
        return ops.imresize(ops.imresize(x * 2.0, 0.5), size=(9, 8), edge="clamp") + 1.0

    x = random_image((1, 3, 9, 8), torch.float32, device)
    with ops.use_backend(backend), ops.trace() as events:
        compiled = torch.compile(pipeline, fullgraph=True, backend="inductor")
        out = compiled(x)
        expected = pipeline(x)
    torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)
    assert ("imresize", backend) in events


@pytest.mark.parametrize("backend", backend_params("cpu"))
@pytest.mark.parametrize("edge", ["mirror", "clamp"])
def test_cpp_tables_equal_python_tables(backend, edge):
    """csrc/common/cubic.h and ops/_cubic.py build bit-identical tables."""
    import sr_kernels.ops._ext.imresize  # noqa: F401

    cases = [(510, 170, 1 / 3), (512, 128, 0.25), (339, 1356, 4.0), (7, 18, 2.5), (1, 3, 3.0)]
    cases += [(13, 4, 1 / 3.7), (9, 9, 1.0), (100, 13, 13 / 100), (5, 1, 0.2)]
    for in_len, out_len, scale in cases:
        for antialias in (True, False):
            index, weight = torch.ops.sr_kernels.imresize_weights(
                in_len, out_len, scale, antialias, edge
            )
            py_index, py_weight = _cubic.contributions(in_len, out_len, scale, antialias, edge)
            assert np.array_equal(index.numpy(), py_index)
            assert np.array_equal(weight.numpy().view(np.uint64), py_weight.view(np.uint64))


def test_python_tables_match_the_definition():
    """Spot-check _cubic against a direct evaluation of MATLAB's formulas (x4 down, mirror)."""
    index, weight = _cubic.contributions(16, 4, 0.25, True, "mirror")
    u = 2 * 4 - 1.5  # output 2 (1-based) samples u = x/scale + 0.5*(1 - 1/scale)
    taps = np.floor(u - 8) + np.arange(18)
    raw = 0.25 * _cubic.cubic(0.25 * (u - taps))
    raw = raw / raw.sum()
    nonzero = raw != 0
    np.testing.assert_allclose(weight[1], raw[nonzero], rtol=1e-15)
    expected_index = _cubic.edge_index(taps[nonzero].astype(np.int64) - 1, 16, "mirror")
    assert np.array_equal(index[1], expected_index)
    assert _cubic.edge_index(np.array([-3, -1, 0, 15, 16, 18]), 16, "mirror").tolist() == [
        2, 0, 0, 15, 15, 13,
    ]  # fmt: skip
