"""Pass: the squeeze of a squeeze-and-excitation block whose input comes straight from a depthwise
conv is taken by that conv: a depthwise Conv2dBiasAct becomes a Conv2dBiasActMean, a 1x1 ->
depthwise pair (Conv1x1Depthwise: MobileNetV3's and EfficientNet's inverted residuals) a
Conv1x1DepthwiseMean. Each returns its output and the output's per-channel means (on the CPU the
depthwise kernel sums each row as it stores it), and the SqueezeExciteScale reads those means
instead of reading the map once more (se_squeeze). Dense and grouped convs before an SE block
(SE-ResNet, RegNet) keep se_squeeze: measured not to pay there (_pays).

Runs after the passes that give the conv its epilogue and residual, make the SE block and pair
the convs. A conv that writes into a concat slice or is called from two places is left alone."""

import operator

import torch.fx as fx

from cnnfast.nn import Conv1x1Depthwise, Conv1x1DepthwiseMean, Conv2dBiasAct, Conv2dBiasActMean, SqueezeExciteScale
from cnnfast.passes._graph import call_site_counts, module_of
from cnnfast.report import Report


# The modules that can hand over their output's means, and the module that does.
_WITH_MEAN = {Conv2dBiasAct: Conv2dBiasActMean, Conv1x1Depthwise: Conv1x1DepthwiseMean}


def _pays(conv) -> bool:
    """Where taking the squeeze was measured to pay in the whole model (scripted, pass on against
    skipped, alternated in one process; AMD EPYC Zen 5, 2 threads, 2026-12-05,
    benchmarks/results/cpu_conv_se_squeeze.md): depthwise convs and 1x1 -> depthwise pairs,
    EfficientNet-B0 batch 8 0.984-0.990x, MobileNetV3-L batch 1 0.981-0.998x. Dense and grouped
    convs keep se_squeeze: alone the op is 0.92-0.99x of conv + se_squeeze there too, but in the
    model SE-ResNet-50 (1x1 convs) read 1.006-1.010x over five runs at batch 1 and 8, RegNetY-400MF
    (grouped) 0.995-1.007x, against 1.002-1.006x for the same model against itself (the A/B's own
    bias): no gain shows."""
    if isinstance(conv, Conv1x1Depthwise):
        return True
    return conv.groups > 1 and conv.groups == conv.weight.shape[0] and conv.weight.shape[1] == 1


def _conv_for(gm: fx.GraphModule, se_node: fx.Node, calls) -> bool:
    """se_node's map comes straight from a conv module that can hand over its means, and pays."""
    if not se_node.args or "mean" in se_node.kwargs or len(se_node.args) > 2:
        return False
    conv_node = se_node.args[0]
    if not isinstance(conv_node, fx.Node) or type(module_of(gm, conv_node)) not in _WITH_MEAN:
        return False
    if not _pays(module_of(gm, conv_node)):
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
        conv = module_of(gm, conv_node)
        gm.add_submodule(conv_node.target, _WITH_MEAN[type(conv)](conv))
        with gm.graph.inserting_after(conv_node):
            y = gm.graph.call_function(operator.getitem, (conv_node, 0))
        with gm.graph.inserting_after(y):
            mean = gm.graph.call_function(operator.getitem, (conv_node, 1))
        conv_node.replace_all_uses_with(y, delete_user_cb=lambda user: user not in (y, mean))
        se_node.kwargs = {**se_node.kwargs, "mean": mean}
        report.add("conv+squeeze", prefix + conv_node.target)
