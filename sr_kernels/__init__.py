"""sr_kernels: fused GPU kernels for super-resolution under a small PyTorch API.

Importing never builds or loads the compiled extension; the first op that needs it does.
"""

from . import ops
from .ops import available_backends, use_backend

__version__ = "0.1.0"
__all__ = ["__version__", "available_backends", "ops", "use_backend"]
