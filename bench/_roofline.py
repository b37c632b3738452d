"""Bytes and FLOPs per op, device peaks, and achieved fractions of them.

Every cost here is the MINIMUM traffic a perfect kernel needs (each input byte read once, each
output byte written once, weights read once); a kernel that re-reads from HBM scores below it.
FLOPs count a multiply-add as 2.

`peaks(device)` gives spec and measured peaks for the current device: spec values come from the
`SPEC` table (matched on the device name), measured values from `measure_peaks(device)`, which
times a device-to-device copy and a bf16 matmul on the device itself (cached per process).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import torch

# ---------------------------------------------------------------------------------------------
# Costs


@dataclass(frozen=True)
class Cost:
    """Minimum bytes moved to/from memory and FLOPs of one call."""

    bytes: int
    flops: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.bytes + other.bytes, self.flops + other.flops)


def _numel(shape: tuple[int, ...]) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


def _elem(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def copy_cost(shape: tuple[int, ...], dtype: torch.dtype) -> Cost:
    """A permutation/copy (pixel_shuffle, pixel_unshuffle): read once + write once, 0 FLOPs."""
    return Cost(bytes=2 * _numel(shape) * _elem(dtype))


pixel_shuffle_cost = copy_cost


def conv2d_cost(
    n: int,
    c_in: int,
    c_out: int,
    h_out: int,
    w_out: int,
    dtype: torch.dtype,
    k: int = 3,
    h_in: int | None = None,
    w_in: int | None = None,
    bias: bool = True,
) -> Cost:
    """k x k convolution: 2*k*k*c_in*c_out FLOPs per output pixel (18*c_in*c_out for 3x3).

    Bytes: input read once, weights (+ bias) read once, output written once.
    """
    h_in = h_out if h_in is None else h_in
    w_in = w_out if w_in is None else w_in
    elem = _elem(dtype)
    pixels = n * h_out * w_out
    weights = c_out * c_in * k * k + (c_out if bias else 0)
    moved = (n * c_in * h_in * w_in + weights + c_out * pixels) * elem
    return Cost(bytes=moved, flops=2 * k * k * c_in * c_out * pixels)


def resblock_fused_cost(n: int, c: int, h: int, w: int, dtype: torch.dtype, k: int = 3) -> Cost:
    """EDSR ResBlock (conv-ReLU-conv, scale, + x) fused: 2 convs of FLOPs, 1 read + 1 write.

    The intermediate activation never reaches HBM; the residual is the input already read.
    """
    elem = _elem(dtype)
    conv_flops = 2 * (2 * k * k * c * c * n * h * w)
    epilogue = 3 * n * c * h * w  # relu, residual scale, add
    weights = 2 * (c * c * k * k + c)
    return Cost(bytes=(2 * n * c * h * w + weights) * elem, flops=conv_flops + epilogue)


def resblock_unfused_cost(n: int, c: int, h: int, w: int, dtype: torch.dtype, k: int = 3) -> Cost:
    """The same block as separate kernels: conv, relu, conv, scale+add each through memory."""
    elem = _elem(dtype)
    act = n * c * h * w * elem
    # conv1 (r x, w y), relu (r y, w y), conv2 (r y, w z), scale-add (r z, r x, w out): 9
    # activation passes against the fused kernel's 2.
    fused = resblock_fused_cost(n, c, h, w, dtype, k)
    return Cost(bytes=fused.bytes + 7 * act, flops=fused.flops)


def resize_cost(
    in_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    dtype_in: torch.dtype,
    dtype_out: torch.dtype | None = None,
    taps: tuple[int, int] | None = None,
) -> Cost:
    """Image resize: read the input once, write the output once.

    `taps` (rows, cols) per output pixel, when given, counts 2 FLOPs per tap of a separable
    filter (horizontal pass on the input rows, vertical pass on the output): an estimate, the
    op is memory-bound either way.
    """
    dtype_out = dtype_in if dtype_out is None else dtype_out
    moved = _numel(in_shape) * _elem(dtype_in) + _numel(out_shape) * _elem(dtype_out)
    flops = 0
    if taps is not None:
        n_c = _numel(out_shape[:-2])
        h_in = in_shape[-2]
        h_out, w_out = out_shape[-2], out_shape[-1]
        flops = 2 * n_c * (h_in * w_out * taps[1] + h_out * w_out * taps[0])
    return Cost(bytes=moved, flops=flops)


def psnr_cost(shape: tuple[int, ...], dtype: torch.dtype) -> Cost:
    """PSNR/MSE: read both images once (3 FLOPs per element: sub, mul, add); output negligible."""
    return Cost(bytes=2 * _numel(shape) * _elem(dtype), flops=3 * _numel(shape))


def ssim_cost(shape: tuple[int, ...], dtype: torch.dtype, window: int = 11) -> Cost:
    """SSIM with a separable Gaussian window: read both images once; 5 filtered maps
    (x, y, x^2, y^2, xy), each 2 passes of `window` taps (2 FLOPs per tap)."""
    numel = _numel(shape)
    return Cost(bytes=2 * numel * _elem(dtype), flops=numel * (5 * 2 * 2 * window + 20))


# ---------------------------------------------------------------------------------------------
# Rates from a time


def gbps(cost: Cost, seconds: float) -> float:
    """Achieved bandwidth in GB/s (1e9 bytes per second)."""
    return cost.bytes / seconds / 1e9


def tflops(cost: Cost, seconds: float) -> float:
    """Achieved TFLOP/s (1e12 FLOPs per second)."""
    return cost.flops / seconds / 1e12


def arithmetic_intensity(cost: Cost) -> float:
    """FLOPs per byte: above the device's ridge point the op is compute-bound."""
    return cost.flops / cost.bytes if cost.bytes else float("inf")


# ---------------------------------------------------------------------------------------------
# Device peaks


@dataclass(frozen=True)
class Peaks:
    """Memory bandwidth (bytes/s) and bf16 dense tensor throughput (FLOP/s); None = unknown."""

    name: str
    bandwidth: float | None
    bf16_flops: float | None
    source: str  # "spec", "measured" or "reference measurement"


# Spec sheets (dense bf16, no sparsity). Matched in order on the lower-cased device name.
SPEC: tuple[tuple[str, Peaks], ...] = (
    ("h100 nvl", Peaks("H100 NVL", 3.9e12, 835e12, "spec")),
    ("h100 pcie", Peaks("H100 PCIe", 2.0e12, 756e12, "spec")),
    ("h100", Peaks("H100 SXM", 3.35e12, 989e12, "spec")),
    ("h200", Peaks("H200 SXM", 4.8e12, 989e12, "spec")),
    ("a100-sxm4-80gb", Peaks("A100 SXM 80GB", 2.039e12, 312e12, "spec")),
    ("a100 80gb pcie", Peaks("A100 PCIe 80GB", 1.935e12, 312e12, "spec")),
    ("a100", Peaks("A100 40GB", 1.555e12, 312e12, "spec")),
    ("l40s", Peaks("L40S", 0.864e12, 362e12, "spec")),
)
# What `measure_peaks` found on an H100 SXM (D2D copy, 8192^3 bf16 matmul): the realistic
# ceiling a kernel is judged against when the current device cannot be measured.
REFERENCE_MEASURED: dict[str, Peaks] = {
    "H100 SXM": Peaks("H100 SXM", 3.0e12, 798e12, "reference measurement"),
}


def spec_peaks(device_name: str) -> Peaks | None:
    lowered = device_name.lower()
    for key, peaks in SPEC:
        if key in lowered:
            return peaks
    return None


def _cuda_time(fn, repeats: int) -> float:
    """Median seconds of `fn` on the current CUDA stream, by CUDA events (after warm-up)."""
    for _ in range(2):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return sorted(times)[len(times) // 2]


def _cpu_time(fn, repeats: int) -> float:
    # The fastest call: a peak is the best rate the machine reaches, and on a shared CPU the
    # median of a few calls fell well below it (rows then showed 100-500 % of "peak").
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


@functools.cache
def measure_peaks(device: str = "cuda") -> Peaks:
    """Measured copy bandwidth and matmul rate of `device` (cached per process).

    CUDA: a 1 GiB device-to-device copy (2 GiB moved) and an 8192^3 bf16 matmul, CUDA events,
    median of 10. CPU: a 256 MiB copy and a 1024^3 fp32 matmul (the CPU has no bf16 tensor
    cores; the rate is fp32), the fastest of 10. Takes about a second.
    """
    if device == "cuda":
        nbytes = 1 << 30
        src = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
        dst = torch.empty_like(src)
        copy_s = _cuda_time(lambda: dst.copy_(src), 10)
        del src, dst
        size = 8192
        a = torch.randn(size, size, device="cuda", dtype=torch.bfloat16)
        b = torch.randn(size, size, device="cuda", dtype=torch.bfloat16)
        mm_s = _cuda_time(lambda: a @ b, 10)
        del a, b
        torch.cuda.empty_cache()
        name = torch.cuda.get_device_name()
    else:
        nbytes = 256 << 20
        src = torch.empty(nbytes, dtype=torch.uint8)
        dst = torch.empty_like(src)
        copy_s = _cpu_time(lambda: dst.copy_(src), 10)
        size = 1024
        a = torch.randn(size, size)
        b = torch.randn(size, size)
        mm_s = _cpu_time(lambda: a @ b, 10)
        name = "cpu"
    return Peaks(name, 2 * nbytes / copy_s, 2 * size**3 / mm_s, "measured")


def device_name(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name()
    import platform

    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def fractions(cost: Cost, seconds: float, device: str, measure: bool = True) -> dict[str, float]:
    """Achieved fractions of the measured (and, on known GPUs, spec) bandwidth and bf16 rate,
    with the measured peaks themselves (GB/s, TFLOP/s; fp32 matmul on CPU)."""
    result: dict[str, float] = {}
    if measure:
        measured = measure_peaks(device)
        result["peak_bandwidth_measured_gbps"] = (measured.bandwidth or 0) / 1e9
        result["peak_matmul_measured_tflops"] = (measured.bf16_flops or 0) / 1e12
        if measured.bandwidth and cost.bytes:
            result["bw_fraction_measured"] = cost.bytes / seconds / measured.bandwidth
        if measured.bf16_flops and cost.flops:
            result["flops_fraction_measured"] = cost.flops / seconds / measured.bf16_flops
    if device == "cuda":
        spec = spec_peaks(device_name(device))
        if spec is not None:
            if spec.bandwidth and cost.bytes:
                result["bw_fraction_spec"] = cost.bytes / seconds / spec.bandwidth
            if spec.bf16_flops and cost.flops:
                result["flops_fraction_spec"] = cost.flops / seconds / spec.bf16_flops
    return result
