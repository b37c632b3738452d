"""psnr_mse on the compiled extension (CPU OpenMP and CUDA kernels): fake kernel + dispatch.

Inference-only: no autograd formula (the public op refuses inputs that require grad).
"""

from __future__ import annotations

from ._metric_ops import metric_op
from ._metric_ops import supports as supports  # the registry asks each backend module

psnr_mse = metric_op("psnr_mse")
