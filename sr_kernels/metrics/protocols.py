"""Evaluation protocols as values: the paper protocol and the protocol of the study we start from.

A `Protocol` fixes every convention that changes a PSNR/SSIM number (crop, channel, quantisation,
Y rounding, data range), so that two numbers are only compared when their protocols are equal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import torch

from ..ops._validate import positive_int
from ..ops.metrics import check_settings, resolve_data_range
from .functional import Reduction, psnr, ssim


@dataclass(frozen=True)
class Protocol:
    """Keyword arguments of `psnr` / `ssim`, with a name for reports.

    Attributes:
        name: short label ("paper-x4", "study").
        crop_border: border shave in pixels.
        y_channel: evaluate BT.601 luma instead of every channel.
        quantize: round both images to the 8-bit grid first.
        round_y: MATLAB's rounded Y (needs uint8 images or quantize).
        data_range: white level of floating-point images (None: the images must be uint8).
    """

    name: str
    crop_border: int = 0
    y_channel: bool = False
    quantize: bool = False
    round_y: bool = False
    data_range: float | None = None

    def __post_init__(self) -> None:
        # Checked here, not at the first evaluated pair (a protocol is often built long before),
        # by the metric ops' own checks.
        settings = check_settings(self.crop_border, self.y_channel, self.quantize, self.round_y)
        for field, value in zip(("crop_border", "y_channel", "quantize", "round_y"), settings):
            object.__setattr__(self, field, value)  # NumPy ints and bools as Python's
        if self.data_range is not None:
            resolve_data_range(torch.float32, self.data_range)
        # round_y needs 8-bit values: uint8 pairs (data_range None or 255) or quantize=True.
        # Any other data_range means float images, so without quantize no pair could be
        # evaluated; say so now rather than at every pair.
        if self.round_y and not self.quantize and self.data_range not in (None, 255.0):
            raise ValueError(
                f"protocol {self.name!r}: round_y=True without quantize=True needs uint8 images, "
                f"but data_range={self.data_range} is for float images: pass quantize=True or "
                "data_range=None"
            )

    def kwargs(self) -> dict:
        """The metric keyword arguments (everything but the name)."""
        values = asdict(self)
        values.pop("name")
        return values

    def psnr(
        self, sr: torch.Tensor, hr: torch.Tensor, reduction: Reduction = "none"
    ) -> torch.Tensor:
        """`sr_kernels.metrics.psnr` under this protocol."""
        self._check_uint8(sr, hr)
        return psnr(sr, hr, reduction=reduction, **self.kwargs())

    def ssim(
        self, sr: torch.Tensor, hr: torch.Tensor, reduction: Reduction = "none"
    ) -> torch.Tensor:
        """`sr_kernels.metrics.ssim` under this protocol."""
        self._check_uint8(sr, hr)
        return ssim(sr, hr, reduction=reduction, **self.kwargs())

    def _check_uint8(self, sr: object, hr: object) -> None:
        # The metric ops' own rule for a uint8 pair, with the protocol-level way out in the
        # message. A mixed pair (one image uint8, one float) is not concerned: data_range is
        # the float image's range, and the uint8 one is mapped onto it.
        if (
            isinstance(sr, torch.Tensor)
            and isinstance(hr, torch.Tensor)
            and sr.dtype == hr.dtype == torch.uint8
        ):
            try:
                resolve_data_range(sr.dtype, self.data_range)
            except ValueError as error:
                raise ValueError(
                    f"protocol {self.name!r}: {error}; for uint8 images use a protocol with "
                    "data_range=None, e.g. study_protocol(data_range=None)"
                ) from None

    def evaluate(
        self,
        pairs: Iterable[tuple[torch.Tensor, torch.Tensor]],
        metrics: tuple[str, ...] = ("psnr", "ssim"),
    ):
        """Per-image values and means over a dataset (`sr_kernels.metrics.evaluate_pairs`)."""
        from .dataset import evaluate_pairs

        return evaluate_pairs(pairs, self, metrics=metrics)


def paper_protocol(
    scale: int, *, data_range: float | None = None, round_y: bool = False
) -> Protocol:
    """The SR-paper protocol (EDSR, SRCNN, VDSR tables; BasicSR with ``test_y_channel``).

    ``crop_border = scale``, BT.601 luma, SR output quantised to the 8-bit grid. `round_y`
    selects MATLAB's rounded Y (the MATLAB evaluation scripts) instead of the unrounded Y of
    EDSR-PyTorch / BasicSR; the difference is up to a few hundredths of a dB (bicubic
    upscaling, Set5 x2 / x3 / x4: 0.034 / 0.018 / 0.013 dB on average, 0.05 dB at most on one
    image; Set14: 0.012 / 0.007 / 0.004 dB).

    Args:
        scale: the SR scale factor (also the border shave).
        data_range: white level of floating-point images (1.0 for [0, 1], 255.0 for [0, 255]);
            None for uint8 images.
        round_y: round Y as MATLAB's rgb2ycbcr on uint8.
    """
    scale = positive_int(scale, "scale")
    return Protocol(
        name=f"paper-x{scale}" + ("-round-y" if round_y else ""),
        crop_border=scale,
        y_channel=True,
        quantize=True,
        round_y=round_y,
        data_range=data_range,
    )


def study_protocol(*, data_range: float | None = 1.0) -> Protocol:
    """The protocol of Gholami Shiri & Palmeri (the study this project starts from).

    RGB (every channel), images in [0, 1] (``data_range = 1``: MAX = 1), no border crop, no
    quantisation; the dataset number is the mean of per-image PSNRs. Pass ``data_range=None``
    to evaluate uint8 images under the same conventions (the PSNR equals that of the float32
    images u8 / 255 up to their float32 rounding: ~1e-9 relative).
    """
    return Protocol(name="study", data_range=data_range)
