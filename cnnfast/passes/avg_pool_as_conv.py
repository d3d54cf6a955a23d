"""Pass: a stride-1 average pool that counts its zero padding (Inception-v3's branch pools,
F.avg_pool2d(x, 3, 1, 1)) becomes a depthwise Conv2dBiasAct whose weights are all 1 / (kh * kw),
on channels_last CPU models. cnnfast's direct depthwise kernel takes 0.5-0.95x of ATen's
channels_last avg_pool2d on those pools (benchmarks/results/cpu_avg_pool_as_conv.md).

Numerics: the same window sums, multiplied by the float nearest 1 / (kh * kw) instead of divided by
kh * kw: within a few ulp of ATen's result (pinned in tests/passes/test_avg_pool_as_conv.py).
Left as they are, with the reason in the report: pools that leave the padding out of the count,
round up (ceil_mode), divide by an override, stride, or whose channel count the graph does not
fix; and every pool of a model that is not fp32, channels_last and on the CPU (the direct kernel's
domain; elsewhere the pool would run as a slower generic conv)."""

from typing import Optional, Tuple

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from cnnfast.contracts.geometry import pair
from cnnfast.nn import Conv2dBiasAct
from cnnfast.passes._graph import channel_count, has_hooks, module_of
from cnnfast.report import Report

PATTERN = "avg_pool as depthwise conv"  # in the report, at the new module's path
_ARG_NAMES = ["input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"]


def _pool_args(gm: fx.GraphModule, node: fx.Node) -> Optional[dict]:
    """The pool's arguments by name (defaults filled in) when node is an average pool, else None."""
    m = module_of(gm, node)
    if m is not None:
        if type(m) is not nn.AvgPool2d or has_hooks(m) or len(node.args) != 1 or node.kwargs:
            return None
        return {"input": node.args[0], "kernel_size": m.kernel_size, "stride": m.stride, "padding": m.padding,
                "ceil_mode": m.ceil_mode, "count_include_pad": m.count_include_pad,
                "divisor_override": m.divisor_override}
    if node.op != "call_function" or node.target is not F.avg_pool2d:
        return None
    a = {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True, "divisor_override": None,
         **dict(zip(_ARG_NAMES, node.args)), **node.kwargs}
    return a if "input" in a and "kernel_size" in a else None


def _why_not(a: dict, channels: Optional[int]) -> Optional[str]:
    """None when the pool is a depthwise conv of ones / (kh * kw), else the reason it is not."""
    if any(isinstance(a[k], fx.Node) for k in _ARG_NAMES[1:]):
        return "pool arguments computed at run time"
    kernel = tuple(pair(a["kernel_size"], "kernel_size"))
    stride = kernel if a["stride"] in (None, [], ()) else tuple(pair(a["stride"], "stride"))
    padding = tuple(pair(a["padding"], "padding"))
    if stride != (1, 1):
        return f"stride {list(stride)}: only stride-1 pools were measured as convs"
    if a["ceil_mode"] or a["divisor_override"] is not None:
        return "ceil_mode or divisor_override: not a plain window mean"
    if not a["count_include_pad"] and padding != (0, 0):
        return "count_include_pad=False: the edge windows' divisor varies"
    if channels is None:
        return "channel count not fixed by the graph"
    return None


def _model_kind(gm: fx.GraphModule) -> Tuple[Optional[torch.device], Optional[torch.dtype]]:
    for t in list(gm.parameters()) + list(gm.buffers()):
        if t.is_floating_point():
            return t.device, t.dtype
    return None, None


def run(gm: fx.GraphModule, report: Report, prefix: str, channels_last: bool) -> None:
    pools = [(node, a) for node in gm.graph.nodes if (a := _pool_args(gm, node)) is not None]
    if not pools:
        return
    device, dtype = _model_kind(gm)
    memo = {}
    for n, (node, a) in enumerate(pools):
        where = prefix + (node.target if isinstance(node.target, str) else node.name)
        if not channels_last or (device is not None and device.type != "cpu") or dtype not in (None, torch.float32):
            report.skip(where, "average pool kept: rewritten as a conv only in fp32 channels_last CPU models")
            continue
        channels = channel_count(gm, a["input"], memo)
        reason = _why_not(a, channels)
        if reason is not None:
            report.skip(where, f"average pool kept: {reason}")
            continue
        kernel, padding = pair(a["kernel_size"], "kernel_size"), pair(a["padding"], "padding")
        weight = torch.full((channels, 1, *kernel), 1.0 / (kernel[0] * kernel[1]), device=device)
        conv = Conv2dBiasAct(weight, None, (1, 1), padding, (1, 1), channels, "none", channels_last=True)
        name = f"avg_pool_as_conv_{n}"
        while hasattr(gm, name):
            name += "_"
        gm.add_submodule(name, conv)
        with gm.graph.inserting_before(node):
            new = gm.graph.call_module(name, (a["input"],))
        node.replace_all_uses_with(new)
        gm.graph.erase_node(node)
        report.add(PATTERN, prefix + name)
