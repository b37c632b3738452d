"""Public ops: the only entry point to the kernels (validation + backend dispatch).

Memory format: an op's image output takes x's memory format on every backend, channels_last
when x is laid out NHWC (and is not also plain contiguous, as a 1-channel image is). Views with
gaps, such as a crop or a channel split of an NHWC tensor, count by their stride order, as
PyTorch's own ops read them, so a channels_last network that crops or splits its activations
stays channels_last.
"""

from ._registry import (
    BACKENDS,
    BackendUnavailableError,
    available_backends,
    explain_choices,
    registered_ops,
    use_backend,
)
from ._trace import last_backend, trace
from .conv2d_act import conv2d_act
from .conv_pixel_shuffle import conv_pixel_shuffle
from .imresize import degrade, imresize, imresize_array, imresize_pil, modcrop
from .metrics import psnr, psnr_mse, ssim_mean
from .pixel_shuffle import pixel_shuffle, pixel_unshuffle
from .residual_block import residual_block

__all__ = [
    "BACKENDS",
    "BackendUnavailableError",
    "available_backends",
    "conv2d_act",
    "conv_pixel_shuffle",
    "degrade",
    "explain_choices",
    "imresize",
    "imresize_array",
    "imresize_pil",
    "last_backend",
    "modcrop",
    "pixel_shuffle",
    "pixel_unshuffle",
    "psnr",
    "psnr_mse",
    "registered_ops",
    "residual_block",
    "ssim_mean",
    "trace",
    "use_backend",
]
