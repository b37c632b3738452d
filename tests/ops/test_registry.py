"""Registry behaviour that the per-op tests do not reach."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import torch

from sr_kernels import ops
from sr_kernels.ops import _registry

ROOT = Path(__file__).resolve().parents[2]


def test_first_selection_inside_a_compiled_region():
    """Two ops selected for the first time inside one torch.compile(fullgraph=True) region.

    Runs in a fresh interpreter: in this process other tests have already selected them.
    """
    script = textwrap.dedent(
        """
        import torch
        from sr_kernels import ops
        x = torch.rand(1, 16, 8, 8)
        def f(x):
            return ops.pixel_unshuffle(ops.pixel_shuffle(x, 2) * 2.0, 2)
        out = torch.compile(f, fullgraph=True)(x)
        assert torch.equal(out, x * 2.0), "compiled result differs"
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]


@pytest.mark.parametrize("inside", [True, False], ids=["use_backend_inside", "outside"])
def test_an_unavailable_forced_backend_raises_its_own_error_under_torch_compile(inside):
    """Was torch._dynamo's InternalTorchDynamoError (raised from the trace-time choice), which
    `except BackendUnavailableError` did not catch."""
    x = torch.rand(1, 4, 5, 7)
    backend = "cuda" if not torch.cuda.is_available() else "cpu"  # cannot serve x's device
    x = x if backend == "cuda" else x.cuda()

    def shuffle(t):
        if inside:
            with ops.use_backend(backend):
                return ops.pixel_unshuffle(t, 1)
        return ops.pixel_unshuffle(t, 1)

    torch._dynamo.reset()
    compiled = torch.compile(shuffle, backend="eager")
    with ops.use_backend(backend) if not inside else contextlib.nullcontext():
        with pytest.raises(ops.BackendUnavailableError, match=f"backend '{backend}' cannot serve"):
            compiled(x)


def test_use_backend_blocks_that_overlap_on_one_thread_warn_and_leave_the_right_choice():
    # As two asyncio tasks that await inside their blocks (or two generators) interleave them:
    # A enters, B enters, A leaves first. Before, A's exit popped B's choice: B's ops then ran
    # on A's backend, silently.
    first, second = ops.use_backend("reference"), ops.use_backend("cpu")
    first.__enter__()
    second.__enter__()
    assert _registry.forced_backend() == "cpu"
    with pytest.warns(RuntimeWarning, match=r"use_backend\('reference'\) overlapped"):
        first.__exit__(None, None, None)
    assert _registry.forced_backend() == "cpu"  # B's own choice, still in force
    second.__exit__(None, None, None)  # the last one open: nothing to warn about
    assert _registry._forced.stack == [] and _registry._forced.owners == []


def test_use_backend_inside_a_fullgraph_compiled_function():
    # Traced, the block takes the plain form: torch 2.11's dynamo could not trace the owner
    # bookkeeping of the eager form (CI runs this file under torch 2.11 too).
    def shuffle(x):
        with ops.use_backend("reference"):
            return ops.pixel_shuffle(x, 2) * 2.0

    torch._dynamo.reset()
    x = torch.rand(1, 8, 4, 6)
    with ops.trace() as events:
        out = torch.compile(shuffle, fullgraph=True, backend="eager")(x)
    assert torch.equal(out, torch.nn.functional.pixel_shuffle(x, 2) * 2.0)
    assert ("pixel_shuffle", "reference") in events
    assert _registry._forced.stack == [] and _registry._forced.owners == []


def test_nested_use_backend_blocks_do_not_warn(recwarn):
    with ops.use_backend("cpu"), ops.use_backend("reference"):
        assert _registry.forced_backend() == "reference"
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    assert _registry._forced.stack == []


def test_extension_ops_have_fake_kernels_as_soon_as_it_loads():
    """A direct torch.ops.sr_kernels call under torch.compile before any public op selected a
    backend: the fake kernels are registered when the extension loads (fresh interpreter)."""
    from sr_kernels import _ext

    if not _ext.load():
        pytest.skip(f"the compiled extension is not loaded: {_ext.info().reason}")
    script = textwrap.dedent(
        """
        import torch
        from sr_kernels import _ext
        assert _ext.load()
        x = torch.rand(1, 8, 3, 5)
        f = torch.compile(lambda x: torch.ops.sr_kernels.pixel_shuffle(x, 2), fullgraph=True)
        assert torch.equal(f(x), torch.nn.functional.pixel_shuffle(x, 2))
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]


def test_available_backends_reports_every_backend():
    status = ops.available_backends()
    assert set(status) == set(_registry.BACKENDS)
    assert status["reference"] == ""
    for name, reason in status.items():
        usable_somewhere = any(_registry.backend_reason(name, d) is None for d in ("cpu", "cuda"))
        assert (reason == "") == usable_somewhere


@pytest.mark.parametrize(
    "triton_version, numpy_version, broken",
    [
        ("3.6.0", "2.4.6", True),  # torch 2.11's Triton with today's NumPy
        ("3.6.0+git1a2b3c", "2.4.0rc1", True),
        ("3.5.1", "2.4.0", True),
        ("3.6.0", "2.3.5", False),
        ("3.7.0", "2.4.6", False),  # the interpreter fix (triton-lang/triton#9171)
        ("3.8.0", "2.4.6", False),
    ],
)
def test_triton_interpreter_incompatibility(triton_version, numpy_version, broken):
    reason = _registry.interpreter_incompatibility(triton_version, numpy_version)
    if broken:
        assert triton_version in reason and numpy_version in reason
        assert "numpy<2.4" in reason and "Triton >= 3.7" in reason
    else:
        assert reason is None


def test_unknown_device_goes_to_the_reference():
    x = torch.rand(1, 4, 2, 2, device="meta")
    assert _registry.select("pixel_shuffle", _registry.tensor_meta(x)) == "reference"


def test_explain_choices_says_why_backends_were_passed_over(monkeypatch):
    """The issue's "other C fall back with the reason reported by the registry": an automatic
    choice keeps why each backend ahead of the chosen one could not serve."""
    _registry.forget_choices()
    import dataclasses

    spec = _registry._OPS["residual_block"]
    # The GPU's order on CPU tensors: the cuda backend refuses CPU tensors, and Triton (under
    # the interpreter here, or refusing CPU tensors without it) refuses C = 24.
    order = ("cuda", "triton", "reference")
    monkeypatch.setitem(
        _registry._OPS, "residual_block", dataclasses.replace(spec, cpu_order=order)
    )
    x = torch.rand(1, 24, 5, 4)
    params = [torch.rand(24, 24, 3, 3) * 0.1, torch.rand(24), torch.rand(24, 24, 3, 3) * 0.1]
    ops.residual_block(x, *params, torch.rand(24))
    with ops.use_backend("reference"):
        ops.pixel_shuffle(torch.rand(1, 4, 2, 2), 2)
    (line,) = ops.explain_choices("residual_block").splitlines()
    assert "'channels': 24" in line and ": reference (cuda: " in line and "; triton: " in line
    assert ops.last_backend("residual_block") == "reference"
    (forced,) = ops.explain_choices("pixel_shuffle").splitlines()
    assert forced.endswith(": reference (forced by use_backend / SR_KERNELS_BACKEND=reference)")
    _registry.forget_choices()
    assert ops.explain_choices() == "no choices made yet"


def test_remembered_choices_follow_the_forced_backend():
    """Choices are remembered per (op, metadata, forced backend): forcing one and leaving the
    block changes the choice each time, and a refusal is raised again, never remembered."""
    meta = _registry.tensor_meta(torch.rand(1, 4, 2, 2))
    assert meta["device"] == "cpu"
    automatic = _registry.select("pixel_shuffle", meta)
    for _ in range(2):
        with ops.use_backend("reference"):
            assert _registry.select("pixel_shuffle", meta) == "reference"
        assert _registry.select("pixel_shuffle", meta) == automatic
        with ops.use_backend("cuda"), pytest.raises(ops.BackendUnavailableError, match="cuda"):
            _registry.select("pixel_shuffle", meta)


def test_like_input_gives_the_weight_the_input_layout_only_when_it_must():
    from sr_kernels.ops import _layout

    x_nchw, x_nhwc = (
        torch.rand(1, 3, 4, 4),
        torch.rand(1, 3, 4, 4).to(memory_format=torch.channels_last),
    )
    w = torch.rand(8, 3, 3, 3)
    w_nhwc = w.to(memory_format=torch.channels_last)
    w_strided = torch.rand(3, 8, 3, 3).transpose(0, 1)  # neither layout: left as it is
    assert _layout.like_input(w, x_nchw) is w and _layout.like_input(w, x_nhwc) is w
    assert _layout.like_input(w_nhwc, x_nhwc) is w_nhwc
    converted = _layout.like_input(w_nhwc, x_nchw)
    assert converted.is_contiguous() and torch.equal(converted, w)
    assert _layout.like_input(w_strided, x_nchw) is w_strided


def test_nested_traces_each_record_their_own_events():
    x = torch.rand(1, 4, 2, 2)
    with ops.trace() as outer:
        with ops.trace() as inner:
            pass  # ends with the same (empty) events as `outer`: removed by identity
        with ops.use_backend("reference"):
            ops.pixel_shuffle(x, 2)
    assert inner == [] and outer == [("pixel_shuffle", "reference")]


def test_use_backend_applies_to_the_calling_thread_only():
    """A thread inside use_backend("reference") leaves the other threads' choice alone, and
    overlapping exits pop each thread's own choice."""
    entered, release = threading.Event(), threading.Event()
    seen = {}

    def forcing_thread():
        with ops.use_backend("reference"):
            entered.set()
            release.wait(timeout=60)
            seen["thread"] = _registry.forced_backend()

    worker = threading.Thread(target=forcing_thread)
    worker.start()
    assert entered.wait(timeout=60)
    try:
        seen["main, outside"] = _registry.forced_backend()
        with ops.use_backend("cpu"):
            release.set()
            worker.join(timeout=60)  # the worker exits its use_backend inside ours
            seen["main, inside"] = _registry.forced_backend()
    finally:
        release.set()
        worker.join(timeout=60)
    assert seen == {"thread": "reference", "main, outside": None, "main, inside": "cpu"}


def test_trace_sees_the_ops_of_its_own_thread_only():
    x = torch.rand(1, 8, 3, 4)
    seen = {}

    def other_thread():
        with ops.trace() as events:
            ops.pixel_shuffle(x, 2)
        seen["thread"] = events

    with ops.use_backend("reference"), ops.trace() as events:
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join(timeout=60)
        ops.pixel_unshuffle(x, 1)
    assert seen["thread"] == [("pixel_shuffle", ops.last_backend("pixel_shuffle"))]
    assert events == [("pixel_unshuffle", "reference")]


_FIRST_USE_FROM_THREADS = """
import threading, traceback, torch
from sr_kernels import ops
x = torch.rand(1, 4, 4, 4)
calls = [
    lambda: ops.imresize(x, 0.5),
    lambda: ops.pixel_shuffle(x, 2),
    lambda: ops.pixel_unshuffle(x, 2),
    lambda: ops.psnr_mse(x[:, :3], x[:, :3], data_range=1.0),
    lambda: ops.ssim_mean(torch.rand(1, 1, 12, 12), torch.rand(1, 1, 12, 12), data_range=1.0),
]
barrier, errors = threading.Barrier(len(calls)), []
def first_call(call):
    barrier.wait()
    try:
        call()
    except Exception:
        errors.append(traceback.format_exc())
threads = [threading.Thread(target=first_call, args=(call,)) for call in calls]
[thread.start() for thread in threads]
[thread.join() for thread in threads]
print("errors", len(errors), *errors[:1])
"""


def test_first_calls_from_several_threads_at_once():
    """Each thread's first op call imports backend modules; concurrently, one of them was handed
    a half-imported module ('has no attribute supports') in about 1 fresh process in 8."""
    for _ in range(4):  # fresh processes: only first calls race
        result = subprocess.run(
            [sys.executable, "-c", _FIRST_USE_FROM_THREADS],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0 and "errors 0" in result.stdout, result.stdout[-3000:]


def test_sparse_and_nested_tensors_are_clear_errors():
    x = torch.rand(1, 4, 4, 4)
    w, b = torch.rand(2, 4, 3, 3), torch.rand(2)
    calls = (
        lambda t: ops.imresize(t, 0.5),
        lambda t: ops.pixel_shuffle(t, 2),
        lambda t: ops.conv2d_act(t, w, b),
    )
    for call in calls:
        with pytest.raises(
            TypeError, match="x must be a dense \\(strided\\) tensor, got a sparse_coo"
        ):
            call(x.to_sparse())
    nested = torch.nested.nested_tensor([torch.rand(4, 4, 4)], layout=torch.jagged)
    with pytest.raises(TypeError, match="got a nested tensor"):
        ops.pixel_shuffle(nested, 2)
    with pytest.raises(TypeError, match="w must be a dense"):
        ops.conv2d_act(x, w.to_sparse(), b)


@pytest.mark.parametrize("environ", ["os.environ", "a dict"])
def test_the_variable_counts_at_every_call_after_a_choice(monkeypatch, environ):
    """dispatch's eager path reuses a choice made before, but reads SR_KERNELS_BACKEND at each
    call: set after the choice it applies (here a bad value, refused), unset it is gone again;
    also with os.environ replaced by a plain dict (as some tests and tools do)."""
    import os

    x, w, b = torch.rand(1, 3, 5, 5), torch.rand(4, 3, 3, 3), torch.rand(4)
    monkeypatch.delenv("SR_KERNELS_BACKEND", raising=False)
    if environ == "a dict":
        monkeypatch.setattr(os, "environ", dict(os.environ))
    expected = torch.relu(torch.nn.functional.conv2d(x, w, b, padding=1))
    torch.testing.assert_close(ops.conv2d_act(x, w, b), expected)  # the choice is made
    os.environ["SR_KERNELS_BACKEND"] = "bogus"
    try:
        with pytest.raises(ValueError, match="SR_KERNELS_BACKEND must be 'auto'"):
            ops.conv2d_act(x, w, b)
    finally:
        del os.environ["SR_KERNELS_BACKEND"]
    torch.testing.assert_close(ops.conv2d_act(x, w, b), expected)
