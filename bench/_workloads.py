"""Named benchmark workloads: every shape a benchmark uses lives here, under a name.

Benchmark bodies never spell sizes: they take a workload from this module and ask it for
inputs (``workload.make_input(dtype, layout, device)``) and for derived sizes. A workload name
is part of the benchmark group ``op/<workload>/<dtype>/<layout>/<device>``, so results stay
comparable across runs and machines.

``devices`` says where a workload is measured: CPU workloads must run in a few seconds on two
cores; GPU workloads are the real-size ones. Layouts are ``"nchw"`` (contiguous) and ``"nhwc"``
(``torch.channels_last``).

Sections: pixel_shuffle, imresize, metrics, conv / resblock / upsampler. Add new workloads to
the section of their op; keep names descriptive (model, batch, spatial size).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

LAYOUTS = ("nchw", "nhwc")
CPU = ("cpu",)
GPU = ("cuda",)
CPU_AND_GPU = ("cpu", "cuda")

DTYPE_NAMES = {
    torch.float32: "fp32",
    torch.float16: "fp16",
    torch.bfloat16: "bf16",
    torch.uint8: "u8",
    torch.float64: "fp64",
}


def dtype_name(dtype: torch.dtype) -> str:
    """Short dtype name used in group names: fp32, fp16, bf16, u8, fp64."""
    return DTYPE_NAMES[dtype]


def random_tensor(
    shape: tuple[int, ...],
    dtype: torch.dtype,
    layout: str,
    device: str | torch.device,
    seed: int = 0,
) -> torch.Tensor:
    """Random (never constant) tensor: uint8 in [0, 255], floats in [0, 1), in `layout`."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    # Generated on the device itself: real-size GPU inputs would take longer on the CPU.
    device = torch.device(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    if dtype == torch.uint8:
        x = torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8, device=device)
    else:
        x = torch.rand(shape, generator=generator, dtype=torch.float32, device=device).to(dtype)
    if layout == "nhwc" and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


@dataclass(frozen=True)
class Workload:
    """Base: a name, the devices it is measured on, and one line saying what it models."""

    name: str
    devices: tuple[str, ...]
    note: str

    @property
    def label(self) -> str:
        """The workload part of benchmark groups: the name, qualified where it has variants."""
        return self.name


# ---------------------------------------------------------------------------------------------
# pixel_shuffle


@dataclass(frozen=True)
class PixelShuffleWorkload(Workload):
    """pixel_shuffle input (n, c_in, h, w) and factor r; output (n, c_in / r^2, h r, w r)."""

    n: int
    c_in: int
    h: int
    w: int
    r: int

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (self.n, self.c_in, self.h, self.w)

    @property
    def output_shape(self) -> tuple[int, int, int, int]:
        r = self.r
        return (self.n, self.c_in // (r * r), self.h * r, self.w * r)

    def make_input(self, dtype: torch.dtype, layout: str, device: str) -> torch.Tensor:
        return random_tensor(self.input_shape, dtype, layout, device)


EDSR_X2_TAIL_B1_270X480 = PixelShuffleWorkload(
    name="edsr_x2_tail_b1_270x480",
    devices=GPU,
    note="EDSR x2 upsampler tail on a 540x960 output: 256 channels -> 64 at 2x",
    n=1,
    c_in=256,
    h=270,
    w=480,
    r=2,
)
PIXEL_SHUFFLE_EDSR_PATCH_B16_48X48 = PixelShuffleWorkload(
    name="edsr_patch_b16_48x48",
    devices=CPU_AND_GPU,
    note="EDSR training batch: 16 patches of 48x48, 256 channels -> 64 at 2x",
    n=16,
    c_in=256,
    h=48,
    w=48,
    r=2,
)
PIXEL_SHUFFLE = (EDSR_X2_TAIL_B1_270X480, PIXEL_SHUFFLE_EDSR_PATCH_B16_48X48)


# ---------------------------------------------------------------------------------------------
# imresize (MATLAB-compatible bicubic, antialiased when downscaling)


@dataclass(frozen=True)
class ResizeWorkload(Workload):
    """An RGB image batch (n, c, h, w) resized by 1/scale ("down") or by scale ("up").

    ``h``/``w`` are the high-resolution size; "up" starts from the (h/scale, w/scale) image,
    so down and up of the same workload are inverse operations (DIV2K LR/HR pairs).
    """

    n: int
    c: int
    h: int
    w: int
    scale: int
    direction: str  # "down" or "up"

    def __post_init__(self) -> None:
        if self.direction not in ("down", "up"):
            raise ValueError(f"direction must be 'down' or 'up', got {self.direction!r}")

    @property
    def label(self) -> str:
        # Down and up share the name: without the direction their rows would share one group
        # and one primary baseline (wrong speed-ups).
        return f"{self.name}_x{self.scale}_{self.direction}"

    @property
    def lr_shape(self) -> tuple[int, int, int, int]:
        return (self.n, self.c, self.h // self.scale, self.w // self.scale)

    @property
    def hr_shape(self) -> tuple[int, int, int, int]:
        return (self.n, self.c, self.h, self.w)

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return self.hr_shape if self.direction == "down" else self.lr_shape

    @property
    def output_shape(self) -> tuple[int, int, int, int]:
        return self.lr_shape if self.direction == "down" else self.hr_shape

    @property
    def factor(self) -> float:
        """The resize factor to pass to imresize (1/scale down, scale up)."""
        return 1.0 / self.scale if self.direction == "down" else float(self.scale)

    def make_input(
        self, dtype: torch.dtype = torch.uint8, layout: str = "nchw", device: str = "cpu"
    ) -> torch.Tensor:
        return random_tensor(self.input_shape, dtype, layout, device)


def _div2k(n: int, direction: str, devices: tuple[str, ...]) -> ResizeWorkload:
    return ResizeWorkload(
        name="div2k_2040x1356",
        devices=devices,
        note=f"DIV2K-size RGB uint8 image, x4 {direction}, batch {n}",
        n=n,
        c=3,
        h=1356,
        w=2040,
        scale=4,
        direction=direction,
    )


# Same name on both devices (the group carries the device): batch 1 on CPU, 16 on GPU.
DIV2K_X4_DOWN_CPU = _div2k(1, "down", CPU)
DIV2K_X4_UP_CPU = _div2k(1, "up", CPU)
DIV2K_X4_DOWN_GPU = _div2k(16, "down", GPU)
DIV2K_X4_UP_GPU = _div2k(16, "up", GPU)
IMRESIZE = (DIV2K_X4_DOWN_CPU, DIV2K_X4_UP_CPU, DIV2K_X4_DOWN_GPU, DIV2K_X4_UP_GPU)


# ---------------------------------------------------------------------------------------------
# metrics (PSNR / SSIM on image pairs)


@dataclass(frozen=True)
class ImagePairWorkload(Workload):
    """Two image batches (n, c, h, w): a reference and a distorted copy of it."""

    n: int
    c: int
    h: int
    w: int

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.n, self.c, self.h, self.w)

    def make_pair(
        self, dtype: torch.dtype = torch.float32, layout: str = "nchw", device: str = "cpu"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(reference, distorted); the distorted one differs everywhere but stays close."""
        a = random_tensor(self.shape, dtype, layout, device, seed=0)
        b = random_tensor(self.shape, dtype, layout, device, seed=1)
        if dtype == torch.uint8:
            mixed = (a.float() * 0.9 + b.float() * 0.1).round().to(torch.uint8)
        else:
            mixed = (a.float() * 0.9 + b.float() * 0.1).to(dtype)
        return a, mixed


METRICS_B16_512X512 = ImagePairWorkload(
    name="b16_512x512",
    devices=CPU,
    note="16 RGB 512x512 image pairs (validation-set size)",
    n=16,
    c=3,
    h=512,
    w=512,
)
METRICS_B16_1080X1920 = ImagePairWorkload(
    name="b16_1080x1920",
    devices=GPU,
    note="16 RGB 1080p image pairs",
    n=16,
    c=3,
    h=1080,
    w=1920,
)
METRICS = (METRICS_B16_512X512, METRICS_B16_1080X1920)


# ---------------------------------------------------------------------------------------------
# conv3x3 / resblock / upsampler (EDSR bodies)


@dataclass(frozen=True)
class ConvWorkload(Workload):
    """A k x k 'same' convolution over (n, c_in, h, w) with c_out output channels."""

    n: int
    c_in: int
    c_out: int
    h: int
    w: int
    k: int = 3

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (self.n, self.c_in, self.h, self.w)

    @property
    def output_shape(self) -> tuple[int, int, int, int]:
        return (self.n, self.c_out, self.h, self.w)

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        return (self.c_out, self.c_in, self.k, self.k)

    def make_input(self, dtype: torch.dtype, layout: str, device: str) -> torch.Tensor:
        return random_tensor(self.input_shape, dtype, layout, device)

    def make_weight(self, dtype: torch.dtype, device: str, seed: int = 1) -> torch.Tensor:
        """Kaiming-uniform-scaled random weights, so activations stay O(1) through a block."""
        w = random_tensor(self.weight_shape, torch.float32, "nchw", "cpu", seed=seed)
        bound = (1.0 / (self.c_in * self.k * self.k)) ** 0.5
        return ((w * 2 - 1) * bound).to(dtype).to(device)


def _conv(name: str, n: int, c: int, h: int, w: int, devices: tuple[str, ...], note: str):
    return ConvWorkload(name=name, devices=devices, note=note, n=n, c_in=c, c_out=c, h=h, w=w)


CONV_X4_270X480 = _conv(
    "x4_270x480_to_1080p", 1, 64, 270, 480, GPU, "EDSR-baseline x4 body at 270x480 (-> 1080p)"
)
CONV_EDSR_PATCH_B16_48X48 = _conv(
    "edsr_patch_b16_48x48", 16, 64, 48, 48, CPU_AND_GPU, "EDSR-baseline training batch"
)
CONV_X4_270X480_C256 = _conv(
    "x4_270x480_to_1080p_c256", 1, 256, 270, 480, GPU, "EDSR (full) x4 body at 270x480"
)
CONV_EDSR_PATCH_B16_48X48_C256 = _conv(
    "edsr_patch_b16_48x48_c256", 16, 256, 48, 48, GPU, "EDSR (full) training batch"
)
CONV = (
    CONV_X4_270X480,
    CONV_EDSR_PATCH_B16_48X48,
    CONV_X4_270X480_C256,
    CONV_EDSR_PATCH_B16_48X48_C256,
)


# conv2d_act: the layers that are not residual blocks (SRCNN 9-5-5 on the Y channel of 33x33
# training patches, batch 128, and the EDSR-baseline head 3 -> 64 and tail 64 -> 3).
def _layer(name, n, c_in, c_out, h, w, k, devices, note):  # noqa: ANN001, ANN202
    return ConvWorkload(
        name=name, devices=devices, note=note, n=n, c_in=c_in, c_out=c_out, h=h, w=w, k=k
    )


CONV2D_ACT = (
    _layer("srcnn_l1_9x9_b128_33x33", 128, 1, 64, 33, 33, 9, CPU_AND_GPU, "SRCNN 9x9, 1 -> 64"),
    _layer("srcnn_l2_5x5_b128_33x33", 128, 64, 32, 33, 33, 5, CPU_AND_GPU, "SRCNN 5x5, 64 -> 32"),
    _layer("srcnn_l3_5x5_b128_33x33", 128, 32, 1, 33, 33, 5, CPU_AND_GPU, "SRCNN 5x5, 32 -> 1"),
    _layer("edsr_head_b16_48x48", 16, 3, 64, 48, 48, 3, CPU_AND_GPU, "EDSR head 3 -> 64"),
    _layer("edsr_tail_x4_1080x1920", 1, 64, 3, 1080, 1920, 3, GPU, "EDSR x4 tail 64 -> 3"),
)


ALL = PIXEL_SHUFFLE + IMRESIZE + METRICS + CONV + CONV2D_ACT


def on(device: str, workloads: tuple[Workload, ...]) -> tuple[Workload, ...]:
    """The workloads of `workloads` that are measured on `device` ("cpu" or "cuda")."""
    return tuple(w for w in workloads if device in w.devices)
