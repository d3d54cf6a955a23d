"""Pass: a stride-1 average pool that counts its zero padding (Inception-v3's branch pools,
F.avg_pool2d(x, 3, 1, 1)) becomes a depthwise Conv2dBiasAct whose weights are all 1 / (kh * kw),
on channels_last CPU models. cnnfast's direct depthwise kernel takes 0.5-0.95x of ATen's
channels_last avg_pool2d on those pools (benchmarks/results/cpu_avg_pool_as_conv.md).

Where the pool's only reader is a 1x1 conv with fewer output than input channels (every branch
pool of Inception-v3: 192 -> 32 up to 2048 -> 192), the two swap: the 1x1 conv (no bias, no
activation) runs first and the pool, with the conv's bias and activation, on its narrower output.
A window mean with zero padding and a fixed divisor is linear, so W (mean x) = mean (W x), and the
bias goes after the mean as it did. The depthwise pass then reads 1.5-10x fewer channels
(Inception-v3: 4.5x fewer values in all).

Numerics: the same window sums, multiplied by the float nearest 1 / (kh * kw) instead of divided by
kh * kw: within a few ulp of ATen's result (pinned in tests/passes/test_avg_pool_as_conv.py); after
the swap the sums are of the conv's outputs rather than its inputs, within fp32 tolerance of eager.
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
from cnnfast.passes._graph import call_site_counts, channel_count, has_hooks, module_of
from cnnfast.report import Report

PATTERN = "avg_pool as depthwise conv"  # in the report, at the new module's path
MOVED = "avg_pool as depthwise conv after its 1x1 conv"
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


def _narrowing_1x1(gm: fx.GraphModule, pool: fx.Node, channels: int, calls: dict) -> Optional[Conv2dBiasAct]:
    """The 1x1 conv that is the pool's only reader, when it has fewer output channels than the pool
    and nothing but the pool's output as its argument, else None. calls: call_site_counts(gm)."""
    users = list(pool.users)
    if len(users) != 1 or len(users[0].args) != 1 or users[0].kwargs:
        return None
    m = module_of(gm, users[0])
    if type(m) is not Conv2dBiasAct or m.groups != 1 or m.reuse_residual or has_hooks(m):
        return None
    if tuple(m.weight.shape[2:]) != (1, 1) or tuple(m.stride) != (1, 1) or tuple(m.padding) != (0, 0):
        return None
    if calls.get(users[0].target, 0) != 1 or m.weight.size(0) >= channels:
        return None
    return m


def _mean_filter(channels: int, kernel, device) -> torch.Tensor:
    """The depthwise filter of a window mean: every weight the float nearest 1 / (kh * kw)."""
    return torch.full((channels, 1, *kernel), 1.0 / (kernel[0] * kernel[1]), device=device)


def _add(gm: fx.GraphModule, stem: str, module) -> str:
    name = stem
    while hasattr(gm, name):
        name += "_"
    gm.add_submodule(name, module)
    return name


def run(gm: fx.GraphModule, report: Report, prefix: str, channels_last: bool) -> None:
    pools = [(node, a) for node in gm.graph.nodes if (a := _pool_args(gm, node)) is not None]
    if not pools:
        return
    device, dtype = _model_kind(gm)
    memo, calls = {}, call_site_counts(gm)  # the rewrites below only remove modules called once
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
        conv = _narrowing_1x1(gm, node, channels, calls)
        if conv is not None:  # the 1x1 conv first, then the pool on its output, as one op each
            reader = next(iter(node.users))
            project = Conv2dBiasAct(conv.weight, None, (1, 1), (0, 0), (1, 1), 1, "none", channels_last=True)
            k = conv.weight.size(0)
            pool = Conv2dBiasAct(_mean_filter(k, kernel, device), conv.bias, (1, 1), padding, (1, 1), k, conv.act,
                                 channels_last=True)
            project_name = _add(gm, f"avg_pool_as_conv_{n}_project", project)
            pool_name = _add(gm, f"avg_pool_as_conv_{n}", pool)
            with gm.graph.inserting_before(node):
                projected = gm.graph.call_module(project_name, (a["input"],))
                new = gm.graph.call_module(pool_name, (projected,))
            reader.replace_all_uses_with(new)
            gm.graph.erase_node(reader)
            gm.graph.erase_node(node)
            report.add(MOVED, prefix + pool_name)
            continue
        conv = Conv2dBiasAct(_mean_filter(channels, kernel, device), None, (1, 1), padding, (1, 1), channels, "none",
                             channels_last=True)
        name = _add(gm, f"avg_pool_as_conv_{n}", conv)
        with gm.graph.inserting_before(node):
            new = gm.graph.call_module(name, (a["input"],))
        node.replace_all_uses_with(new)
        gm.graph.erase_node(node)
        report.add(PATTERN, prefix + name)
