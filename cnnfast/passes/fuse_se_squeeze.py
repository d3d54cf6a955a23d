"""Pass: the squeeze of a squeeze-and-excitation block whose input is a Conv2dBiasAct's output is
taken by that conv: the conv becomes a Conv2dBiasActMean, which returns its output and the
output's per-channel means (on the CPU its kernel sums each block as it stores it), and the
SqueezeExciteScale reads those means instead of reading the map once more (se_squeeze).

Runs after the passes that give the conv its epilogue and residual and make the SE block, and
after fuse_conv1x1_depthwise: a depthwise conv that became part of a 1x1 -> depthwise pair keeps
the pair (measured to pay more) and its SE block keeps its own squeeze. A conv that writes into a
concat slice or is called from two places is left alone."""

import operator

import torch.fx as fx

from cnnfast.nn import Conv2dBiasAct, Conv2dBiasActMean, SqueezeExciteScale
from cnnfast.passes._graph import call_site_counts, module_of
from cnnfast.report import Report


def _conv_for(gm: fx.GraphModule, se_node: fx.Node, calls) -> bool:
    """se_node's map comes straight from a Conv2dBiasAct that can hand over its means."""
    if not se_node.args or "mean" in se_node.kwargs or len(se_node.args) > 2:
        return False
    conv_node = se_node.args[0]
    if not isinstance(conv_node, fx.Node) or not isinstance(module_of(gm, conv_node), Conv2dBiasAct):
        return False
    if calls[conv_node.target] != 1 or "out" in conv_node.kwargs or len(conv_node.args) > 2:
        return False
    return set(conv_node.kwargs) <= {"residual"}


def run(gm: fx.GraphModule, report: Report, prefix: str) -> None:
    calls = call_site_counts(gm)
    for se_node in list(gm.graph.nodes):
        se = module_of(gm, se_node)
        if not isinstance(se, SqueezeExciteScale) or se.pool_by_height or not _conv_for(gm, se_node, calls):
            continue
        conv_node = se_node.args[0]
        gm.add_submodule(conv_node.target, Conv2dBiasActMean(module_of(gm, conv_node)))
        with gm.graph.inserting_after(conv_node):
            y = gm.graph.call_function(operator.getitem, (conv_node, 0))
        with gm.graph.inserting_after(y):
            mean = gm.graph.call_function(operator.getitem, (conv_node, 1))
        conv_node.replace_all_uses_with(y, delete_user_cb=lambda user: user not in (y, mean))
        se_node.kwargs = {**se_node.kwargs, "mean": mean}
        report.add("conv+squeeze", prefix + conv_node.target)
