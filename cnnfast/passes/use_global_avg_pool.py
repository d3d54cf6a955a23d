"""Pass: global average pools (nn.AdaptiveAvgPool2d(1), F.adaptive_avg_pool2d(x, 1), output size
1 or (1, 1)) become cnnfast's global_avg_pool2d, se_squeeze on the CPU. Runs after every pass that
reads pooling nodes (squeeze-and-excitation, pre-activation convs, concat buffers)."""

import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from cnnfast.nn.global_avg_pool import global_avg_pool2d
from cnnfast.passes._graph import has_hooks, module_of, replace_with_call
from cnnfast.report import Report


def _is_one(size) -> bool:
    return size == 1 or (isinstance(size, (tuple, list)) and len(size) == 2 and all(s == 1 for s in size))


def _args(gm: fx.GraphModule, node: fx.Node):
    """(pooled tensor's node,) for a plain global average pool, else None."""
    m = module_of(gm, node)
    if m is not None:
        if type(m) is nn.AdaptiveAvgPool2d and not has_hooks(m) and _is_one(m.output_size):
            if len(node.args) == 1 and not node.kwargs:
                return (node.args[0],)
        return None
    if node.op == "call_function" and node.target is F.adaptive_avg_pool2d:
        a = {**dict(zip(["input", "output_size"], node.args)), **node.kwargs}
        if set(a) == {"input", "output_size"} and _is_one(a["output_size"]):
            return (a["input"],)
    return None


def run(gm: fx.GraphModule, report: Report, prefix: str) -> None:
    replace_with_call(gm, report, prefix, _args, global_avg_pool2d, "global_avg_pool2d (one read)")
