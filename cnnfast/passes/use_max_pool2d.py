"""Pass: nn.MaxPool2d and F.max_pool2d (dilation 1, no indices) become cnnfast's max_pool2d, which
skips the argmax indices ATen's CPU kernel always computes (about 2x faster on GoogLeNet's pools;
benchmarks/ops/bench_max_pool2d.py). Runs last, after the passes that read pooling nodes."""

import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from cnnfast.contracts.geometry import pair
from cnnfast.nn.max_pool2d import max_pool2d
from cnnfast.passes._graph import has_hooks, module_of, replace_with_call
from cnnfast.report import Report


def _params(gm: fx.GraphModule, node: fx.Node):
    """(kernel, stride, padding, ceil_mode) for a plain max pool node, else None."""
    m = module_of(gm, node)
    if isinstance(m, nn.MaxPool2d) and type(m) is nn.MaxPool2d and not has_hooks(m):
        if len(node.args) != 1 or node.kwargs or m.return_indices or m.dilation not in (1, (1, 1)):
            return None
        k, s, p, ceil = m.kernel_size, m.stride, m.padding, m.ceil_mode
    elif node.op == "call_function" and node.target is F.max_pool2d:
        names = ["input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"]
        a = {**dict(zip(names, node.args)), **node.kwargs}
        if a.get("return_indices", False) or a.get("dilation", 1) not in (1, (1, 1), [1, 1]):
            return None
        k, s, p, ceil = a["kernel_size"], a.get("stride"), a.get("padding", 0), a.get("ceil_mode", False)
    else:
        return None
    values = (k, s, p, ceil)
    if any(isinstance(v, fx.Node) for v in values) or not isinstance(ceil, bool):
        return None
    k = pair(k, "kernel_size")
    return k, (k if s is None or s == [] or s == () else pair(s, "stride")), pair(p, "padding"), ceil


def max_pool_args(gm: fx.GraphModule, node: fx.Node):
    """(input, kernel, stride, padding, ceil_mode) of a max pool this pass takes, else None."""
    params = _params(gm, node)
    return None if params is None else (node.args[0] if node.args else node.kwargs["input"], *params)


def run(gm: fx.GraphModule, report: Report, prefix: str) -> None:
    replace_with_call(gm, report, prefix, max_pool_args, max_pool2d, "max_pool2d (no indices)")
