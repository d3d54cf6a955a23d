"""Finishing step of optimize(): the model's GPU backend choice written into its fused parts.

Not a graph rewrite: it also reaches fused modules outside any captured graph (children optimized
one by one), so optimize() runs it once on the whole result.
"""

import torch.fx as fx
import torch.nn as nn

from cnnfast.config import DEFAULT_GPU_BACKEND, check_gpu_backend
from cnnfast.nn.max_pool2d import max_pool2d


def set_gpu_backend(model: nn.Module, name: str = DEFAULT_GPU_BACKEND) -> None:
    """Give every fused module of `model`, and every max_pool2d call in its graphs, the GPU
    backend `name` (optimize() calls this on the copy it returns)."""
    check_gpu_backend(name)
    for m in model.modules():
        if hasattr(m, "gpu_backend") and isinstance(m.gpu_backend, str):
            m.gpu_backend = name
        if isinstance(m, fx.GraphModule):
            changed = False
            for node in m.graph.nodes:
                if node.op == "call_function" and node.target is max_pool2d:
                    node.update_kwarg("gpu_backend", name)
                    changed = True
            if changed:
                m.recompile()
