"""Every op under torch.compile with dynamic shapes (``dynamic=True``, and the automatic dynamic
shapes torch.compile turns on after a size change, e.g. evaluating images of several sizes).

The backend choice and imresize's weight tables depend on sizes: they specialise on them (a
guard) instead of failing on symbolic values, which they did before (dynamo could not pass a
symbolic channel count to the registry's trace-time choice).
"""

from __future__ import annotations

import pytest
import torch
from _helpers import backend_device, backend_params, edsr_parameters, random_image

from sr_kernels import ops
from sr_kernels.ops import _registry

C = 16


def _darker(x: torch.Tensor) -> torch.Tensor:
    return x * 0.75 + 0.125


# op -> (input channels, function of (x, parameters)); sizes are even for pixel_unshuffle.
CASES = {
    "residual_block": (
        C,
        lambda x, p: ops.residual_block(x, p["w1"], p["b1"], p["w2"], p["b2"], 0.1),
    ),
    "conv2d_act": (3, lambda x, p: ops.conv2d_act(x, p["head_w"], p["head_b"])),
    "conv_pixel_shuffle": (C, lambda x, p: ops.conv_pixel_shuffle(x, p["up_w"], p["up_b"], 2)),
    "pixel_shuffle": (8, lambda x, p: ops.pixel_shuffle(x, 2)),
    "pixel_unshuffle": (8, lambda x, p: ops.pixel_unshuffle(x, 2)),
    "imresize": (3, lambda x, p: ops.imresize(x, 0.5)),
    "psnr_mse": (3, lambda x, p: ops.psnr_mse(x, _darker(x), data_range=1.0, crop_border=1)),
    "psnr": (3, lambda x, p: ops.psnr(x, _darker(x), data_range=1.0, crop_border=1)),
    "ssim_mean": (3, lambda x, p: ops.ssim_mean(x, _darker(x), data_range=1.0, y_channel=True)),
}
SIZES = [(2, 12, 14), (3, 16, 12), (2, 18, 22)]  # (N, H, W); N > 1: dynamo specialises 0 and 1


def _dtype(op: str, backend: str) -> torch.dtype:
    # The CUDA convolution kernels are half-precision only.
    convolution = op in ("residual_block", "conv2d_act", "conv_pixel_shuffle")
    return torch.float16 if backend == "cuda" and convolution else torch.float32


@pytest.mark.parametrize("dynamic", [True, None], ids=["dynamic", "automatic"])
@pytest.mark.parametrize("backend", backend_params("reference", "cpu", "triton", "cuda"))
@pytest.mark.parametrize("op", list(CASES))
def test_compiled_op_follows_size_changes(op, backend, dynamic):
    if backend not in _registry._OPS[op].modules:
        pytest.skip(f"{op} has no {backend} backend")
    if backend in ("triton", "cuda") and dynamic is None:
        # Compiles are slow there (the interpreter; inductor on a GPU, whose time a validation
        # run shares with the benchmarks); dynamic=True covers the same code.
        pytest.skip("the automatic mode runs on the reference and cpu backends only")
    device = backend_device(backend)
    dtype = _dtype(op, backend)
    channels, function = CASES[op]
    params = edsr_parameters(C, device, dtype, seed=3)
    torch._dynamo.reset()
    # On the CPU, aot_eager: dynamo and the fake-tensor tracing (where symbolic sizes failed)
    # are the same as inductor's, whose C++ code generation added ~40 s to this file here.
    compiler = "inductor" if device.type == "cuda" else "aot_eager"
    compiled = torch.compile(
        lambda x: function(x, params), dynamic=dynamic, fullgraph=True, backend=compiler
    )
    events = []
    for n, h, w in SIZES:
        x = random_image((n, channels, h, w), dtype, device)
        # On the CPU, compared with the reference: the eager runs of the Triton kernels under
        # the interpreter took half of this test's time (ssim_mean 62 s -> 24 s, on 2 cores).
        # On a GPU, with the backend's own eager result (fp16 convolutions: the reference's
        # rounding differs).
        with ops.use_backend("reference" if device.type == "cpu" else backend):
            expected = function(x, params)
        with ops.use_backend(backend):
            with ops.trace() as traced:
                out = compiled(x)
            events += traced
            assert out.shape == expected.shape
            tolerance = 2e-3 if dtype == torch.float16 else 1e-5
            torch.testing.assert_close(out, expected, rtol=tolerance, atol=tolerance)
    assert (op, backend) in events  # recorded when the backend's function is traced or run


@pytest.mark.parametrize("backend", backend_params("reference", "cpu"))
def test_a_compiled_function_compiles_once(backend):
    """Recording which backend ran is not part of the compiled code: traced, its writes to the
    trace globals were guarded on, and the second call of a compiled function compiled it again.
    """
    graphs = []

    def counting_compiler(graph_module, example_inputs):
        graphs.append(graph_module)
        return graph_module.forward

    torch._dynamo.reset()
    compiled = torch.compile(
        lambda x: ops.pixel_shuffle(x, 2) * 2.0, backend=counting_compiler, fullgraph=True
    )
    x = random_image((2, 8, 5, 6), torch.float32, backend_device(backend))
    with ops.use_backend(backend), ops.trace() as events:
        first = compiled(x)
    with ops.use_backend(backend):
        second = compiled(x)
    assert ("pixel_shuffle", backend) in events
    assert ops.last_backend("pixel_shuffle") == backend
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    assert len(graphs) == 1


# op -> function of (x, parameters, a float argument) for the float arguments models pass.
FLOAT_ARGUMENTS = {
    "residual_block": (
        C,
        lambda x, p, s: ops.residual_block(x, p["w1"], p["b1"], p["w2"], p["b2"], s),
        [1.0, 0.1, 0.2],  # EDSR-baseline's and EDSR's res_scale
    ),
    "psnr": (3, lambda x, p, s: ops.psnr(x, _darker(x), data_range=s), [1.0, 2.0, 4.0]),
    "ssim_mean": (3, lambda x, p, s: ops.ssim_mean(x, _darker(x), data_range=s), [1.0, 2.0]),
}


@pytest.mark.parametrize("backend", backend_params("reference", "cpu"))
@pytest.mark.parametrize("op", list(FLOAT_ARGUMENTS))
def test_compiled_op_follows_float_argument_changes(op, backend):
    """A float argument that changes between calls becomes symbolic (automatic dynamic): the
    argument checks must not call math.* on it (res_scale's did: fullgraph failed on the second
    value, and without fullgraph the block broke the graph)."""
    if backend not in _registry._OPS[op].modules:
        pytest.skip(f"{op} has no {backend} backend")
    device = backend_device(backend)
    channels, function, values = FLOAT_ARGUMENTS[op]
    params = edsr_parameters(C, device, torch.float32, seed=4)
    x = random_image((2, channels, 13, 14), torch.float32, device)
    torch._dynamo.reset()
    compiled = torch.compile(function, fullgraph=True, backend="aot_eager")
    with ops.use_backend(backend):
        for value in values:
            expected = function(x, params, value)
            torch.testing.assert_close(compiled(x, params, value), expected, rtol=1e-5, atol=1e-5)
