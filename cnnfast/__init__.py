"""cnnfast: fused inference ops and model rewriting for the classic CNNs in PyTorch."""

from cnnfast._extension import build_info, require_extension

require_extension()

from cnnfast import config, memory, nn, ops  # noqa: E402  (ops registers the fake kernels once _C is loaded)
from cnnfast.optimize import optimize  # noqa: E402
from cnnfast.report import Report, report  # noqa: E402
from cnnfast.verify import Verification, verify  # noqa: E402

__version__ = "0.1.0"
__all__ = ["Report", "Verification", "build_info", "config", "memory", "nn", "ops", "optimize", "report", "verify", "__version__"]
