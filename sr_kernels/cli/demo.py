"""`sr-kernels demo`: run the available ops on a generated image; show the backend and the time.

The demo is a list of steps (`STEPS`): each names a public function under ``sr_kernels`` and
builds its arguments from the demo image. A step whose function does not exist in this version
is skipped with a line that says so, so an op is added to the demo with one entry.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from . import _args

Inputs = tuple[tuple[Any, ...], dict[str, Any]]


@dataclass(frozen=True)
class Step:
    target: str  # attribute path under the sr_kernels package, e.g. "ops.pixel_shuffle"
    what: str  # shown next to the result
    inputs: Callable[[torch.Tensor], Inputs]  # arguments built from the image (not timed)


def _features(image: torch.Tensor, channels: int, size: int = 64) -> torch.Tensor:
    """A (1, channels, size, size) feature map derived deterministically from the image."""
    crop = image[:, :, :size, :size]
    mix = _weights((channels, 3, 1, 1), seed=1, device=image.device)
    return F.conv2d(crop, mix).contiguous()


def _weights(shape: tuple[int, ...], seed: int, device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    fan_in = max(1, int(torch.tensor(shape[1:]).prod()))
    return (torch.randn(shape, generator=generator) / fan_in**0.5).to(device)


def _noisy(image: torch.Tensor) -> torch.Tensor:
    """The image with a small deterministic perturbation, clamped to [0, 1] (a fake SR output)."""
    _, _, h, w = image.shape
    ripple = torch.sin(torch.arange(h * w, device=image.device, dtype=image.dtype) * 0.7)
    return (image + 0.02 * ripple.view(1, 1, h, w)).clamp(0, 1)


def _residual_block_inputs(image: torch.Tensor) -> Inputs:
    c, device = 64, image.device
    x = _features(image, c)
    w1, w2 = (_weights((c, c, 3, 3), seed=s, device=device) for s in (2, 3))
    b1, b2 = (0.01 * _weights((c,), seed=s, device=device) for s in (4, 5))
    return (x, w1, b1, w2, b2, 0.1), {}


# The head's output has 64 channels: on a whole 4096 x 4096 image that is 4 GiB in float32 per
# copy (the demo peaked at 13.5 GB of memory there), so it runs on a crop as the other
# 64-channel steps do.
HEAD_CROP = 512


def _head_inputs(image: torch.Tensor) -> Inputs:
    c, device = 64, image.device
    w = _weights((c, 3, 3, 3), seed=8, device=device)
    b = 0.01 * _weights((c,), seed=9, device=device)
    return (image[:, :, :HEAD_CROP, :HEAD_CROP].contiguous(), w, b), {}


def _upsampler_inputs(image: torch.Tensor) -> Inputs:
    c, r, device = 64, 2, image.device
    x = _features(image, c)
    w = _weights((c * r * r, c, 3, 3), seed=6, device=device)
    b = 0.01 * _weights((c * r * r,), seed=7, device=device)
    return (x, w, b, r), {}


_RANGE = {"data_range": 1.0}  # the demo image is float in [0, 1]

STEPS: tuple[Step, ...] = (
    Step(
        "ops.pixel_unshuffle", "RGB -> 12 channels at half size (r = 2)", lambda im: ((im, 2), {})
    ),
    Step(
        "ops.pixel_shuffle",
        "12 channels at half size -> RGB (r = 2)",
        lambda im: ((F.pixel_unshuffle(im, 2), 2), {}),
    ),
    Step("ops.imresize", "bicubic x1/4 downscale", lambda im: ((im,), {"scale": 0.25})),
    Step("metrics.psnr", "PSNR of a perturbed copy", lambda im: ((_noisy(im), im), _RANGE)),
    Step("metrics.ssim", "SSIM of a perturbed copy", lambda im: ((_noisy(im), im), _RANGE)),
    Step(
        "ops.conv2d_act",
        f"conv 3x3, 3 -> 64 channels + ReLU (EDSR head), <= {HEAD_CROP}x{HEAD_CROP} crop",
        _head_inputs,
    ),
    Step(
        "ops.residual_block",
        "EDSR residual block, 64 channels, <= 64x64 crop",
        _residual_block_inputs,
    ),
    Step(
        "ops.conv_pixel_shuffle",
        "conv 64 -> 256 + pixel_shuffle (r = 2), <= 64x64 crop",
        _upsampler_inputs,
    ),
)


_WIDTH = max(len(step.target) for step in STEPS)

# The smallest image every step accepts: SSIM's 11x11 'valid' window needs 11 pixels a side,
# and pixel_unshuffle / pixel_shuffle with r = 2 need an even size; so even and at least 12.
MIN_SIZE = 12
# A demo, not a benchmark: 4096 x 4096 RGB is 200 MB in float32 and the steps make a few
# copies (the 64-channel steps run on crops), about 1.5 GB at the peak; larger sizes only end
# in an allocation error.
MAX_SIZE = 4096


def _size(text: str) -> int:
    """argparse type of --size: an even integer in [MIN_SIZE, MAX_SIZE] (argparse names the
    option)."""
    value = _args.integer(text)
    if value < MIN_SIZE or value % 2 or value > MAX_SIZE:
        raise argparse.ArgumentTypeError(
            f"must be an even integer from {MIN_SIZE} to {MAX_SIZE} (SSIM's window needs 11x11 "
            f"pixels and the r = 2 pixel (un)shuffle an even size), got {value}"
        )
    return value


def make_image(
    height: int = 256, width: int = 256, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """A deterministic synthetic RGB image (1, 3, H, W) in [0, 1]: gradients, rings, edges."""
    y = torch.linspace(0, 1, height).view(height, 1).expand(height, width)
    x = torch.linspace(0, 1, width).view(1, width).expand(height, width)
    radius = ((x - 0.5) ** 2 + (y - 0.5) ** 2).sqrt()
    rings = 0.5 + 0.5 * torch.cos(60 * radius**2)
    checker = ((x * 8).floor() + (y * 8).floor()) % 2
    image = torch.stack([x, 0.6 * rings + 0.4 * y, 0.7 * checker + 0.3 * (1 - x)])
    return image.clamp(0, 1).unsqueeze(0).to(device)


def resolve(target: str) -> Callable[..., Any] | None:
    """The function at `target` under sr_kernels, or None when this version does not have it."""
    import importlib

    module_name, _, attribute = target.rpartition(".")
    module_name = f"sr_kernels.{module_name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is None or not module_name.startswith(error.name):
            raise  # the module exists but something it imports is missing
        return None
    function = getattr(module, attribute, None)
    return function if callable(function) else None


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _describe(result: Any) -> str:
    if isinstance(result, torch.Tensor):
        if result.numel() <= 4:
            values = ", ".join(f"{v:.4g}" for v in result.detach().float().flatten().tolist())
            return f"[{values}]"
        return "x".join(str(s) for s in result.shape) + f" {str(result.dtype).split('.')[-1]}"
    return type(result).__name__


def run_step(step: Step, image: torch.Tensor, repeats: int) -> str:
    """Run one step; the line to print (raises what the op raises)."""
    from .. import ops

    function = resolve(step.target)
    if function is None:
        return f"{step.target:<{_WIDTH}} skipped: not in this version of sr_kernels"
    args, kwargs = step.inputs(image)
    with ops.trace() as events:
        result = function(*args, **kwargs)  # warm-up: JIT builds and compilation happen here
    times = []
    for _ in range(repeats):
        _synchronize(image.device)
        start = time.perf_counter()
        function(*args, **kwargs)
        _synchronize(image.device)
        times.append(time.perf_counter() - start)
    ran = ", ".join(f"{op} on {backend}" for op, backend in dict.fromkeys(events)) or "no kernel"
    median_ms = statistics.median(times) * 1e3
    name = f"{step.target:<{_WIDTH}}"
    return f"{name} {median_ms:9.3f} ms  ran: {ran}  ->  {_describe(result)}  ({step.what})"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the available ops on a generated image and show which backend ran each",
        description="Run each available op on a generated RGB image, on the CPU and on the GPU "
        "when one is visible; print the backend that ran it and the median time.",
    )
    parser.add_argument(
        "--size",
        type=_size,
        default=256,
        help=f"image height and width: even, {MIN_SIZE} to {MAX_SIZE} (256)",
    )
    parser.add_argument(
        "--repeats", type=_args.positive_int, default=5, help="timed runs per op (median; 5)"
    )
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="auto: the CPU, then the GPU when one is visible",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.device == "auto":
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    elif args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda: no CUDA GPU is visible", file=sys.stderr)
        return 2
    else:
        devices = [args.device]
    if "cuda" not in devices:
        print("GPU: none visible; running on the CPU only")
    failures = 0
    for device in devices:
        image = make_image(args.size, args.size, device)
        name = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
        print(
            f"== {device} ({name}): image 1x3x{args.size}x{args.size} float32, "
            f"median of {args.repeats} runs"
        )
        for step in STEPS:
            try:
                print(run_step(step, image, args.repeats))
            except BrokenPipeError:  # the output's reader went away: not a step failure
                raise
            except Exception as error:  # reported per step; the exit status says it failed
                failures += 1
                print(f"{step.target:<{_WIDTH}} FAILED: {type(error).__name__}: {error}")
    return 1 if failures else 0
