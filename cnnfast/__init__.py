"""cnnfast: fused inference ops and model rewriting for the classic CNNs in PyTorch."""

from cnnfast._extension import build_info, require_extension

require_extension()

from cnnfast import ops  # noqa: E402  (registers the fake kernels once _C is loaded)

__version__ = "0.1.0"
__all__ = ["build_info", "ops", "__version__"]
