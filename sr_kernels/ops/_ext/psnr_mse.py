"""psnr_mse and psnr on the compiled extension (CPU OpenMP and CUDA kernels): fake kernels +
dispatch. psnr runs the same kernels; the last step writes dB instead of the MSE.

Inference-only: no autograd formula (the public op refuses inputs that require grad).
"""

from __future__ import annotations

from ._metric_ops import metric_op
from ._metric_ops import supports as supports  # the registry asks each backend module

psnr_mse = metric_op("psnr_mse")
psnr = metric_op("psnr")
