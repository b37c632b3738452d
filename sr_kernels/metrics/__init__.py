"""Image-quality metrics with the SR evaluation protocol explicit (see README.md here).

`psnr` / `ssim` return one value per image; `paper_protocol` / `study_protocol` fix the
conventions; `evaluate_pairs` / `dataset_psnr` / `dataset_ssim` give per-image values and means.
Built on the fused ops `sr_kernels.ops.psnr` (psnr_mse in dB) and `sr_kernels.ops.ssim_mean`.
"""

from .dataset import DatasetScores, dataset_psnr, dataset_ssim, evaluate_pairs
from .functional import psnr, ssim
from .protocols import Protocol, paper_protocol, study_protocol

__all__ = [
    "DatasetScores",
    "Protocol",
    "dataset_psnr",
    "dataset_ssim",
    "evaluate_pairs",
    "paper_protocol",
    "psnr",
    "ssim",
    "study_protocol",
]
