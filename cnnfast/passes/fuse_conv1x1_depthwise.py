"""Pass: a 1x1 Conv2dBiasAct whose only reader is a depthwise Conv2dBiasAct (MobileNet's and
EfficientNet's expansion, ShuffleNet's branch) becomes one Conv1x1Depthwise: on the CPU one
conv1x1_depthwise call, whose kernel computes the 1x1 rows into the depthwise conv's input ring
where the map is large enough for that to pay (csrc/ops/conv1x1_depthwise/fuse_rule.cpp). Runs after
the passes that give either conv its epilogue, a residual or a concat slice: neither conv may carry
a residual or write into a slice."""

import torch.fx as fx

from cnnfast.nn import Conv1x1Depthwise, Conv2dBiasAct
from cnnfast.passes._graph import call_site_counts, is_pointwise_conv, module_of
from cnnfast.report import Report


def _plain_call(gm: fx.GraphModule, node: fx.Node, calls) -> bool:
    """node calls a Conv2dBiasAct called nowhere else, on one input, without residual or out slice."""
    return (isinstance(module_of(gm, node), Conv2dBiasAct) and len(node.args) == 1 and not node.kwargs
            and calls[node.target] == 1)


def _is_depthwise(conv: Conv2dBiasAct, channels: int) -> bool:
    return conv.groups == channels == conv.weight.shape[0] and conv.weight.shape[1] == 1


def run(gm: fx.GraphModule, report: Report, prefix: str) -> None:
    calls = call_site_counts(gm)
    for node in list(gm.graph.nodes):
        if not _plain_call(gm, node, calls) or len(node.users) != 1:
            continue
        first = module_of(gm, node)
        second_node = next(iter(node.users))
        if not is_pointwise_conv(first) or not _plain_call(gm, second_node, calls) or second_node.args[0] is not node:
            continue
        second = module_of(gm, second_node)
        if not _is_depthwise(second, first.weight.shape[0]) or second.channels_last != first.channels_last:
            continue
        gm.add_submodule(node.target, Conv1x1Depthwise(first, second))
        second_node.replace_all_uses_with(node)
        gm.graph.erase_node(second_node)
        report.add("conv1x1+depthwise", prefix + node.target)
