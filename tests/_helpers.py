"""Shared test helpers: backends to run, devices, tolerances (STYLE.md section 8), data paths."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from sr_kernels import ops
from sr_kernels.ops import _registry
from sr_kernels.tools import tolerances
from sr_kernels.tools.tolerances import FLOORS, relative_error  # noqa: F401  (tests import them here)

GPU = torch.cuda.is_available()
CPU_DEVICE = torch.device("cpu")
GPU_DEVICE = torch.device("cuda") if GPU else None


def backend_device(backend: str) -> torch.device:
    """The device a backend's kernels run on in this test session."""
    if backend == "cuda":
        return torch.device("cuda")
    if backend == "triton":
        return torch.device("cuda") if GPU and not _registry.triton_interpreting() else CPU_DEVICE
    return CPU_DEVICE


def backend_params(*names: str) -> list:
    """pytest params for backends, each skipped with the reason when it cannot run here."""
    params = []
    for name in names:
        device = backend_device(name)
        reason = _registry.backend_reason(name, device.type)
        marks = [pytest.mark.skip(reason=f"{name}: {reason}")] if reason else []
        if name == "cuda":
            marks.append(pytest.mark.cuda)
        params.append(pytest.param(name, id=name, marks=marks))
    return params


ALL_BACKENDS = ("reference", "cpu", "triton", "cuda")


@contextlib.contextmanager
def runs_on(backend: str, op: str) -> Iterator[None]:
    """`ops.use_backend(backend)` around a block whose `op` calls must all run that backend's
    own kernel (checked with `ops.trace()` when the block ends)."""
    with ops.use_backend(backend), ops.trace() as events:
        yield
    ran = {name for op_name, name in events if op_name == op}
    assert ran == {backend}, f"{op} ran on {ran or 'no backend'}, expected {backend}"


def assert_close_to_reference(
    out: torch.Tensor, ref64: torch.Tensor, torch_same_dtype: torch.Tensor | None, key
):
    """max(K * err(torch_same_dtype), floor[key]) bounds our relative error against float64."""
    assert torch.isfinite(out).all(), "output has NaN or Inf"
    same_dtype_error = None if torch_same_dtype is None else relative_error(torch_same_dtype, ref64)
    bound = tolerances.bound(key, same_dtype_error)
    error = relative_error(out, ref64)
    assert error <= bound, f"relative error {error:.3e} exceeds {bound:.3e} ({key})"


def data_root() -> Path | None:
    """`../shared/data` beside the checkout, or $SR_KERNELS_DATA."""
    env = os.environ.get("SR_KERNELS_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "data")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return None


def require_data(*parts: str) -> Path:
    """The data root, or the folder `parts` under it; skips with the reason when absent (a data
    folder without Set5 skips the Set5 tests rather than failing them on a missing file)."""
    root = data_root()
    if root is None:
        pytest.skip("SR reference data not found (../shared/data or $SR_KERNELS_DATA)")
    folder = root.joinpath(*parts)
    if not folder.is_dir():
        pytest.skip(f"{'/'.join(parts)} not found under {root}")
    return folder


def random_image(shape, dtype, device="cpu") -> torch.Tensor:
    """Random test data, never zeros: uint8 uniform over 0..255, floats uniform in [0, 1)."""
    if dtype == torch.uint8:
        return torch.randint(0, 256, shape, dtype=torch.uint8, device=device)
    return torch.rand(shape, dtype=torch.float64, device=device).to(dtype)


LAYOUTS = ("contiguous", "channels_last", "sliced", "permuted", "misaligned", "offset")


def laid_out(x: torch.Tensor, layout: str) -> torch.Tensor:
    """`x` (NCHW values) in another memory layout, same values:

    * ``contiguous``, ``channels_last``;
    * ``sliced``: a view with gaps, a crop of a larger NHWC image with 8 channels dropped (its
      pixels stay 16-byte aligned for C a multiple of 8: the CUDA kernels take it as it is);
    * ``permuted``: H and W swapped in memory (a transposed NCHW image: counts as NCHW);
    * ``misaligned``: channel stride 1, pixels not 16-byte aligned (one channel dropped);
    * ``offset``: a channels_last-contiguous view whose data pointer is one element off.
    """
    n, c, h, w = x.shape
    if layout == "contiguous":
        return x.contiguous()
    if layout == "channels_last":
        return x.contiguous(memory_format=torch.channels_last)
    if layout == "permuted":
        return x.transpose(2, 3).contiguous().transpose(2, 3)
    if layout in ("sliced", "misaligned"):
        extra, rows, cols = (8, 2, 3) if layout == "sliced" else (1, 0, 0)
        big = torch.zeros((n, c + extra, h + rows, w + cols), dtype=x.dtype, device=x.device)
        big = big.contiguous(memory_format=torch.channels_last)
        view = big[:, extra:, rows // 2 : rows // 2 + h, cols // 2 : cols // 2 + w]
        view.copy_(x)
        if layout == "sliced":
            assert not view.is_contiguous()
            assert not view.is_contiguous(memory_format=torch.channels_last)
        return view
    if layout == "offset":
        flat = torch.empty(x.numel() + 1, dtype=x.dtype, device=x.device)
        view = flat[1:].as_strided(x.shape, (h * w * c, 1, w * c, c))
        view.copy_(x)
        return view
    raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")


def edsr_parameters(
    c: int, device: torch.device, dtype: torch.dtype = torch.float32, seed: int = 0
) -> dict[str, torch.Tensor]:
    """Random weights of a small EDSR at C channels (never zeros): a residual block (w1, b1, w2,
    b2), the head 3 -> C (head_w, head_b) and an x2 upsampler C -> 4C (up_w, up_b)."""
    gen = torch.Generator().manual_seed(seed)

    def randn(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return (torch.randn(shape, generator=gen) * scale).to(device, dtype)

    return {
        "w1": randn(c, c, 3, 3, scale=0.1),
        "b1": randn(c),
        "w2": randn(c, c, 3, 3, scale=0.1),
        "b2": randn(c),
        "head_w": randn(c, 3, 3, 3, scale=0.2),
        "head_b": randn(c),
        "up_w": randn(4 * c, c, 3, 3, scale=0.05),
        "up_b": randn(4 * c),
    }


@contextlib.contextmanager
def convolution_backward_masks() -> Iterator[list[tuple[bool, ...]]]:
    """The output masks (input, weight, bias gradients wanted) of every
    ``aten.convolution_backward`` call made in the block, in order."""
    from torch.utils._python_dispatch import TorchDispatchMode

    masks: list[tuple[bool, ...]] = []

    class Spy(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func is torch.ops.aten.convolution_backward.default:
                masks.append(tuple(args[-1]))
            return func(*args, **(kwargs or {}))

    with Spy():
        yield masks


def assert_partial_gradients_match(
    op, reference_op, tensors, names, wanted, *args, key=None, masks=None
) -> None:
    """Gradients of ``op(*tensors, *args).square().sum()`` for the inputs in `wanted` only (the
    others not requiring grad, as for frozen layers) equal the reference op's, and the others'
    stay None: a backward that skips unneeded gradients skips only those. The reference runs in
    float64; float64 tensors are compared to 1e-10, others by STYLE.md's rule for `key`. With
    `masks`, our backward's convolution_backward output masks must be exactly those."""

    def grads(fn, dtype=None):
        leaves = [
            t.detach().to(dtype or t.dtype).clone().requires_grad_(n in wanted)
            for n, t in zip(names, tensors)
        ]
        loss = fn(*leaves, *args).square().sum()
        with convolution_backward_masks() as seen:
            loss.backward()
        return {n: t.grad for n, t in zip(names, leaves)}, seen

    (ours, seen), (expected, _) = grads(op), grads(reference_op, torch.float64)
    if masks is not None:
        assert seen == masks, f"convolution_backward masks {seen}, expected {masks}"
    for name in names:
        if name not in wanted:
            assert ours[name] is None, name
        elif key is None:
            torch.testing.assert_close(ours[name], expected[name], rtol=1e-10, atol=1e-10)
        else:
            assert_close_to_reference(ours[name], expected[name], None, key)
