"""Baselines our kernels are measured against, one section per op.

A `Baseline` is a named callable with the op's calling convention (the same arguments the
benchmark passes to our op). Each op has exactly one PRIMARY baseline per device: the speed-up
reported for every row of a group is over that one (eager PyTorch / cuDNN, the thing a user
would otherwise call). Others (torch.compile, PIL, ...) are extra rows of the same group.

Add a baseline with ``register("op", Baseline(...))`` in the op's section below. Keep
reference code out of here: a baseline is someone else's implementation, never our spec.
Import heavy third-party packages inside the callable (or guard with `requires`), so that a
missing package skips one row instead of breaking collection.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Baseline:
    """A competitor implementation of an op.

    Attributes:
        name: row name in reports ("torch", "torch.compile", "PIL", "cudnn", ...).
        fn: callable with the op's signature.
        devices: devices it runs on ("cpu", "cuda").
        primary: the speed-up reference of its op on these devices (one per op and device).
        requires: importable module names; the row skips with a reason when one is missing.
        note: one line for the report (what exactly is measured).
        variant: shown next to the name in reports (e.g. the torch.compile mode).
    """

    name: str
    fn: Callable[..., Any]
    devices: tuple[str, ...] = ("cpu", "cuda")
    primary: bool = False
    requires: tuple[str, ...] = ()
    note: str = ""
    skip: dict[str, str] = field(default_factory=dict)  # device -> reason this row skips there
    variant: str = ""
    # For baselines that need state built once per row (an nn.Module holding the weights):
    # prepare(*op_args) returns the zero-argument call that is timed.
    prepare: Callable[..., Callable[[], Any]] | None = None

    def bind(self, *args: Any) -> Callable[[], Any]:
        """The zero-argument call of this baseline on the op's `args`: what a benchmark times."""
        if self.prepare is not None:
            return self.prepare(*args)
        fn = self.fn
        return lambda: fn(*args)

    def unavailable_reason(self, device: str) -> str | None:
        """None when this baseline runs on `device` here, else why not."""
        if device not in self.devices:
            return self.skip.get(device, f"{self.name} is not measured on {device}")
        for module in self.requires:
            if importlib.util.find_spec(module) is None:
                return f"{self.name} needs the {module!r} package, which is not installed"
        return None


_BASELINES: dict[str, dict[str, Baseline]] = {}


def register(op: str, baseline: Baseline) -> Baseline:
    entries = _BASELINES.setdefault(op, {})
    if baseline.name in entries:
        raise ValueError(f"baseline {baseline.name!r} of {op!r} is registered twice")
    if baseline.primary:
        for other in entries.values():
            clash = set(other.devices) & set(baseline.devices)
            if other.primary and clash:
                raise ValueError(f"{op!r} has two primary baselines on {sorted(clash)}")
    entries[baseline.name] = baseline
    return baseline


def baselines(op: str) -> dict[str, Baseline]:
    """The baselines of `op`, by name (registration order)."""
    return dict(_BASELINES.get(op, {}))


def get(op: str, name: str) -> Baseline:
    return _BASELINES[op][name]


def primary(op: str, device: str) -> Baseline:
    """The baseline every speed-up of `op` on `device` is computed against."""
    for baseline in _BASELINES.get(op, {}).values():
        if baseline.primary and device in baseline.devices:
            return baseline
    raise KeyError(f"no primary baseline for {op!r} on {device!r}")


# One compiled baseline serves every dtype/layout/shape row of its op (dynamic=False: one graph
# each). Dynamo keeps those graphs on the function's code object and, past `recompile_limit`
# (8 by default), silently runs eager instead: raise the limit so that never happens mid-suite.
_RECOMPILE_LIMIT = 256


def compiled(fn: Callable[..., Any], **options: Any) -> Callable[..., Any]:
    """`torch.compile(fn)` built on first call, so importing this module compiles nothing."""

    @functools.cache
    def build() -> Callable[..., Any]:
        import torch._dynamo.config as dynamo_config

        dynamo_config.recompile_limit = max(dynamo_config.recompile_limit, _RECOMPILE_LIMIT)
        dynamo_config.accumulated_recompile_limit = max(
            dynamo_config.accumulated_recompile_limit, 4 * _RECOMPILE_LIMIT
        )
        return torch.compile(fn, **options)

    def run(*args: Any, **kwargs: Any) -> Any:
        return build()(*args, **kwargs)

    run.__name__ = f"compiled_{getattr(fn, '__name__', 'fn')}"
    return run


# torch.compile on CPU costs 1-3 s of inductor C++ compile per dtype/layout variant (measured
# on 2 cores), more than the rest of the quick CPU run: opt in with SR_KERNELS_BENCH_COMPILE_CPU=1.
COMPILE_DEVICES = (
    ("cpu", "cuda") if os.environ.get("SR_KERNELS_BENCH_COMPILE_CPU", "0") == "1" else ("cuda",)
)
_COMPILE_ON_CPU = (
    "torch.compile costs 1-3 s of inductor compile per variant on CPU; "
    "set SR_KERNELS_BENCH_COMPILE_CPU=1 to measure it"
)


def max_autotune(fn: Callable[..., Any], what: str) -> Baseline:
    """The ``torch.compile(mode="max-autotune", dynamic=False)`` row of an eager baseline `fn`
    (`what` names fn in the note). dynamic=False: one specialised graph per shape, as for a
    deployed model (by default the second shape would recompile with dynamic sizes and autotune
    that instead). Its tensor arguments are marked static (`static_inputs`)."""
    run = compiled(fn, mode="max-autotune", dynamic=False)
    return Baseline(
        "torch.compile",
        run,
        devices=COMPILE_DEVICES,
        skip={"cpu": _COMPILE_ON_CPU},
        note=f'torch.compile(mode="max-autotune", dynamic=False) of {what}, inputs static',
        variant="max-autotune",
        prepare=lambda *args: static_inputs(run, *args),
    )


def static_inputs(run: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """``run(*args)`` with args' tensors marked as static inputs (same address every call).
    max-autotune replays CUDA graphs, which copy every input that is not a parameter, a buffer
    or marked static into the graph's own memory before each replay: a compiled model copies
    neither its weights (parameters) nor a block's input (made inside the same graph), so
    unmarked, the row would time copies of x and the weights that a model never makes (~8 % of
    the C = 64, 1 x 270 x 480 block). Unguarded: a new row's tensors (new addresses) make the
    CUDA graph re-record in the row's first, checked call, not recompile."""
    for arg in args:
        if isinstance(arg, torch.Tensor):
            torch._dynamo.mark_static_address(arg, guard=False)
    return lambda: run(*args)


_MODULES_ON_GPU = "the GPU targets are against the functional eager baseline (cuDNN)"


def nn_modules(prepare: Callable[..., Callable[[], Any]], what: str) -> Baseline:
    """The ``nn.Module`` row of a convolution op on CPU: `prepare(*op_args)` builds the layers a
    model would hold (nn.Conv2d with the op's weights, ...) and returns the call that is timed.
    Issue 5's CPU target is stated against "plain nn.Conv2d eager": this row is that, module
    calls included; the primary (functional) baseline is the stricter comparison."""

    def run_once(*args: Any) -> Any:
        return prepare(*args)()

    return Baseline(
        "nn.Module",
        run_once,
        devices=("cpu",),
        skip={"cuda": _MODULES_ON_GPU},
        note=what,
        prepare=prepare,
    )


def conv2d_module(w: torch.Tensor, b: torch.Tensor, padding_mode: str = "zeros") -> nn.Conv2d:
    """An ``nn.Conv2d`` ('same' padding, stride 1) whose parameters are `w` and `b` (shared)."""
    c_out, c_in, k, _ = w.shape
    conv = nn.Conv2d(
        c_in, c_out, k, padding=k // 2, padding_mode=padding_mode, device=w.device, dtype=w.dtype
    )
    conv.weight = nn.Parameter(w, requires_grad=False)
    conv.bias = nn.Parameter(b, requires_grad=False)
    return conv


# ---------------------------------------------------------------------------------------------
# pixel_shuffle / pixel_unshuffle: ATen's kernels, eager and compiled. The input's layout
# (NCHW or channels_last) is the group's layout, so "torch" in an nhwc group is ATen's
# channels_last path.


def _pixel_shuffle(x: torch.Tensor, r: int) -> torch.Tensor:
    return F.pixel_shuffle(x, r)


def _pixel_unshuffle(x: torch.Tensor, r: int) -> torch.Tensor:
    return F.pixel_unshuffle(x, r)


register(
    "pixel_shuffle",
    Baseline("torch", _pixel_shuffle, primary=True, note="F.pixel_shuffle, eager ATen"),
)
register(
    "pixel_shuffle",
    Baseline(
        "torch.compile",
        compiled(_pixel_shuffle, dynamic=False),
        devices=COMPILE_DEVICES,
        note="torch.compile(F.pixel_shuffle), inductor default mode",
        skip={"cpu": _COMPILE_ON_CPU},
    ),
)
register(
    "pixel_unshuffle",
    Baseline("torch", _pixel_unshuffle, primary=True, note="F.pixel_unshuffle, eager ATen"),
)
register(
    "pixel_unshuffle",
    Baseline(
        "torch.compile",
        compiled(_pixel_unshuffle, dynamic=False),
        devices=COMPILE_DEVICES,
        note="torch.compile(F.pixel_unshuffle), inductor default mode",
        skip={"cpu": _COMPILE_ON_CPU},
    ),
)


# ---------------------------------------------------------------------------------------------
# imresize: PIL bicubic (CPU), the NumPy port of MATLAB imresize, torch F.interpolate
# (bicubic, antialias=True). Owner: the imresize benchmark. Register here.
# Signature: fn(x, factor) with x (N, C, H, W) and the imresize factor (1/4 down, 4 up); the
# output size is ceil(in * factor), as imresize's.


def _resized_size(x: torch.Tensor, factor: float) -> tuple[int, int]:
    import math

    return math.ceil(x.shape[2] * factor), math.ceil(x.shape[3] * factor)


def _interpolate_bicubic_aa(x: torch.Tensor, factor: float) -> torch.Tensor:
    return F.interpolate(x, size=_resized_size(x, factor), mode="bicubic", antialias=True)


def _interpolate_bicubic_aa_via_float(x: torch.Tensor, factor: float) -> torch.Tensor:
    """What a user runs on CUDA, where F.interpolate has no uint8 bicubic: uint8 -> float32,
    F.interpolate(bicubic, antialias=True), round half to even and clamp, back to uint8. The
    conversions are part of the timed work. Not MATLAB-exact (PIL-style borders, no rounding
    between the passes); the benchmark checks it only for shape and rough agreement."""
    out = F.interpolate(x.float(), size=_resized_size(x, factor), mode="bicubic", antialias=True)
    return out.round_().clamp_(0, 255).to(torch.uint8)


def _pil_bicubic(x: torch.Tensor, factor: float) -> torch.Tensor:
    import numpy as np
    from PIL import Image

    out_h, out_w = _resized_size(x, factor)
    images = []
    for image in x.permute(0, 2, 3, 1).cpu().numpy():  # (H, W, C) uint8 per image
        resized = Image.fromarray(image).resize((out_w, out_h), Image.Resampling.BICUBIC)
        images.append(np.asarray(resized))
    out = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)  # NHWC in memory
    nhwc = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    return out if nhwc else out.contiguous()  # the input's layout, as ours returns


def _matlab_axis_weights(in_len: int, out_len: int, scale: float):
    """MATLAB's bicubic contributions for one axis (antialiased when downscaling), vectorised.

    Written for this benchmark from the algorithm's description (cubic a = -0.5, kernel
    stretched by 1/scale when scale < 1, u = x/scale + 0.5(1 - 1/scale), normalised weights,
    mirror indices [1:n, n:-1:1]): what a typical NumPy port does, not our spec.
    """
    import numpy as np

    def cubic(d):
        d = np.abs(d)
        near = (1.5 * d - 2.5) * d * d + 1.0
        far = ((-0.5 * d + 2.5) * d - 4.0) * d + 2.0
        return np.where(d <= 1, near, np.where(d < 2, far, 0.0))

    shrink = scale < 1
    width = 4.0 / scale if shrink else 4.0
    u = np.arange(1, out_len + 1) / scale + 0.5 * (1 - 1 / scale)
    first = np.floor(u - width / 2)
    taps = first[:, None] + np.arange(int(np.ceil(width)) + 2)
    weights = scale * cubic(scale * (u[:, None] - taps)) if shrink else cubic(u[:, None] - taps)
    weights /= weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len)[::-1]])
    index = mirror[(taps.astype(np.int64) - 1) % (2 * in_len)]
    used = np.abs(weights).sum(axis=0) > 0
    return index[:, used], weights[:, used]


def _numpy_matlab(x: torch.Tensor, factor: float) -> torch.Tensor:
    """MATLAB imresize(x, factor, 'bicubic') on uint8 in vectorised NumPy (float64 maths).

    Height pass then width pass, each a sum over taps of weight * gathered rows/columns,
    rounded to uint8 after each pass (MATLAB on uint8 images).
    """
    import numpy as np

    image = x.cpu().numpy().astype(np.float64)
    out_h, out_w = _resized_size(x, factor)
    for axis, out_len in ((2, out_h), (3, out_w)):
        index, weights = _matlab_axis_weights(image.shape[axis], out_len, factor)
        shape = [1, 1, 1, 1]
        shape[axis] = out_len
        total = np.zeros(image.shape[:axis] + (out_len,) + image.shape[axis + 1 :])
        for k in range(index.shape[1]):
            total += weights[:, k].reshape(shape) * np.take(image, index[:, k], axis=axis)
        image = np.floor(np.clip(total, 0, 255) + 0.5)  # round half up = away from zero here
    return torch.from_numpy(image.astype(np.uint8))


register(
    "imresize",
    Baseline(
        "torch",
        _interpolate_bicubic_aa,
        devices=("cpu",),
        primary=True,
        note="F.interpolate(mode='bicubic', antialias=True) on uint8: PIL-style, not MATLAB-exact",
        skip={"cuda": "F.interpolate has no uint8 bicubic on CUDA: see the torch-fp32 row"},
    ),
)
register(
    "imresize",
    Baseline(
        "torch-fp32",
        _interpolate_bicubic_aa_via_float,
        devices=("cuda",),
        primary=True,
        note=(
            "uint8 -> float32, F.interpolate(mode='bicubic', antialias=True), round, clamp, "
            "-> uint8 (CUDA has no uint8 bicubic; conversions timed): not MATLAB-exact"
        ),
        skip={"cpu": "on CPU F.interpolate resizes uint8 directly: see the torch row"},
    ),
)
register(
    "imresize",
    Baseline(
        "PIL",
        _pil_bicubic,
        devices=("cpu",),
        requires=("PIL",),
        note="PIL Image.resize(BICUBIC) per image (uint8 RGB): not MATLAB-exact",
    ),
)
register(
    "imresize",
    Baseline(
        "numpy-matlab",
        _numpy_matlab,
        devices=("cpu",),
        note="vectorised NumPy MATLAB imresize (uint8, float64 maths): exact, single-threaded",
    ),
)


# ---------------------------------------------------------------------------------------------
# metrics (PSNR / SSIM): torchmetrics, skimage.metrics, a plain torch implementation.
# Owner: the metrics benchmark. Register here.
#
# The benchmark protocol is the study's: per-image values on RGB, no crop, data range 255 for
# uint8 images and 1 for float ones. Every callable takes (sr, hr, data_range), the images in
# the dtype ours reads, and returns float64 per-image values: PSNR ("psnr"), SSIM ("ssim") or
# both stacked as (2, N) ("psnr_ssim").


def _torch_psnr(sr: torch.Tensor, hr: torch.Tensor, data_range: float) -> torch.Tensor:
    mse = ((sr.double() - hr.double()) ** 2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(data_range**2 / mse)


def _torch_ssim(sr: torch.Tensor, hr: torch.Tensor, data_range: float) -> torch.Tensor:
    # Eager float32 with one grouped conv over the 5 stacked maps (torchmetrics' structure),
    # separable Gaussian 11/1.5, 'valid'.
    x, y = sr.float(), hr.float()
    c = x.shape[1]
    g = torch.exp(-((torch.arange(11, dtype=torch.float64) - 5) ** 2) / (2 * 1.5**2))
    g = (g / g.sum()).to(x.dtype).to(x.device)
    maps = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    vertical = g.view(1, 1, 11, 1).repeat(5 * c, 1, 1, 1)
    horizontal = g.view(1, 1, 1, 11).repeat(5 * c, 1, 1, 1)
    blurred = F.conv2d(F.conv2d(maps, vertical, groups=5 * c), horizontal, groups=5 * c)
    mx, my, mxx, myy, mxy = blurred.split(c, dim=1)
    sxx, syy, sxy = mxx - mx * mx, myy - my * my, mxy - mx * my
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return s.mean(dim=(1, 2, 3)).double()


def _torch_psnr_ssim(sr: torch.Tensor, hr: torch.Tensor, data_range: float) -> torch.Tensor:
    return torch.stack([_torch_psnr(sr, hr, data_range), _torch_ssim(sr, hr, data_range)])


def _torchmetrics_psnr(sr: torch.Tensor, hr: torch.Tensor, data_range: float) -> torch.Tensor:
    from torchmetrics.functional.image import peak_signal_noise_ratio

    value = peak_signal_noise_ratio(
        sr.float(), hr.float(), data_range=data_range, reduction="none", dim=(1, 2, 3)
    )
    return value.double()


def _torchmetrics_ssim(sr: torch.Tensor, hr: torch.Tensor, data_range: float) -> torch.Tensor:
    from torchmetrics.functional.image import structural_similarity_index_measure

    value = structural_similarity_index_measure(
        sr.float(), hr.float(), data_range=data_range, reduction="none", sigma=1.5, kernel_size=11
    )
    return value.double()


def _torchmetrics_psnr_ssim(sr: torch.Tensor, hr: torch.Tensor, data_range: float) -> torch.Tensor:
    return torch.stack(
        [_torchmetrics_psnr(sr, hr, data_range), _torchmetrics_ssim(sr, hr, data_range)]
    )


def _skimage_each(
    sr: torch.Tensor, hr: torch.Tensor, data_range: float, metric: str
) -> torch.Tensor:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    values = []
    for a, b in zip(sr.permute(0, 2, 3, 1).cpu().numpy(), hr.permute(0, 2, 3, 1).cpu().numpy()):
        if metric == "psnr":
            values.append(peak_signal_noise_ratio(b, a, data_range=data_range))
        else:
            values.append(
                structural_similarity(
                    b,
                    a,
                    gaussian_weights=True,
                    sigma=1.5,
                    use_sample_covariance=False,
                    data_range=data_range,
                    channel_axis=2,
                )
            )
    return torch.tensor(values, dtype=torch.float64)


def _skimage_psnr_ssim(sr: torch.Tensor, hr: torch.Tensor, data_range: float) -> torch.Tensor:
    return torch.stack(
        [_skimage_each(sr, hr, data_range, "psnr"), _skimage_each(sr, hr, data_range, "ssim")]
    )


for _metric, _torch_fn, _tm_fn, _sk_fn in (
    ("psnr", _torch_psnr, _torchmetrics_psnr, functools.partial(_skimage_each, metric="psnr")),
    ("ssim", _torch_ssim, _torchmetrics_ssim, functools.partial(_skimage_each, metric="ssim")),
    ("psnr_ssim", _torch_psnr_ssim, _torchmetrics_psnr_ssim, _skimage_psnr_ssim),
):
    register(
        _metric,
        Baseline(
            "torch",
            _torch_fn,
            primary=True,
            note="eager PyTorch: PSNR in float64; SSIM float32 grouped separable conv (5 maps)",
        ),
    )
    register(
        _metric,
        Baseline(
            "torchmetrics",
            _tm_fn,
            requires=("torchmetrics",),
            note="torchmetrics.functional.image, per image (reduction='none'), float32 input",
        ),
    )
    register(
        _metric,
        Baseline(
            "skimage",
            _sk_fn,
            devices=("cpu",),
            requires=("skimage",),
            note="skimage.metrics per image (float64, single-threaded), gaussian_weights SSIM",
        ),
    )


# ---------------------------------------------------------------------------------------------
# conv3x3 / resblock / upsampler: cuDNN through F.conv2d (NCHW and channels_last; the bench
# session sets torch.backends.cudnn.benchmark = True), torch.compile of the eager block.
# Owner: the conv benchmarks. Register here.
