"""Pass: BatchNorm2d -> ReLU -> 1x1 Conv2dBiasAct (pre-activation, as in every DenseNet layer and
transition) becomes one PreactConv1x1. The BN cannot fold into the conv's weights (the ReLU sits
between them), so the op applies it as a prologue instead. Runs after fuse_conv_bn and
fuse_activation, which have already folded what follows the conv (DenseNet's norm2 + relu2).

A 2x2 average pool right after a conv without activation (a DenseNet transition) moves into the op
too, ahead of the conv: pooling and a 1x1 conv are both linear, so they commute, and the conv then
runs on a quarter of the pixels."""

import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from cnnfast.nn import Conv2dBiasAct, PreactConv1x1
from cnnfast.nn.preact_conv1x1 import batchnorm_affine
from cnnfast.passes._graph import activation_of, call_site_counts, is_pointwise_conv, module_of
from cnnfast.passes.fuse_conv_bn import _bn_skip_reason
from cnnfast.report import Report


def _is_pool2(gm: fx.GraphModule, node: fx.Node, source: fx.Node) -> bool:
    """node is avg_pool2d(source, 2) with stride 2, no padding, floor mode, plain divisor."""
    if node.args[:1] != (source,):
        return False
    m = module_of(gm, node)
    if isinstance(m, nn.AvgPool2d):
        k, s, p = m.kernel_size, m.stride, m.padding
        return (k in (2, (2, 2)) and s in (2, (2, 2)) and p in (0, (0, 0)) and not m.ceil_mode
                and m.divisor_override is None and len(node.args) == 1 and not node.kwargs)
    if node.op == "call_function" and node.target is F.avg_pool2d:
        names = ["input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"]
        a = {**dict(zip(names, node.args)), **node.kwargs}
        return (a.get("kernel_size") in (2, (2, 2), [2, 2]) and a.get("stride", a.get("kernel_size")) in
                (2, (2, 2), [2, 2], None) and a.get("padding", 0) in (0, (0, 0), [0, 0])
                and not a.get("ceil_mode", False) and a.get("divisor_override") is None)
    return False


def run(gm: fx.GraphModule, report: Report, prefix: str) -> None:
    calls = call_site_counts(gm)
    for conv_node in list(gm.graph.nodes):
        conv = module_of(gm, conv_node)
        if (not isinstance(conv, Conv2dBiasAct) or len(conv_node.args) != 1 or conv_node.kwargs
                or calls[conv_node.target] > 1 or not is_pointwise_conv(conv)):
            continue
        relu_node = conv_node.args[0]
        if not isinstance(relu_node, fx.Node) or len(relu_node.users) != 1 or not relu_node.args:
            continue
        bn_node = relu_node.args[0]
        if not isinstance(bn_node, fx.Node) or activation_of(gm, relu_node, bn_node) != "relu":
            continue
        bn = module_of(gm, bn_node)
        if (not isinstance(bn, nn.modules.batchnorm._BatchNorm) or len(bn_node.users) != 1
                or len(bn_node.args) != 1 or bn_node.kwargs):
            continue
        if _bn_skip_reason(bn, calls[bn_node.target], conv) is not None:
            continue  # fuse_conv_bn's rules; the BN stays as it is, and so does the graph
        scale, shift = batchnorm_affine(bn)
        pool_node = next(iter(conv_node.users)) if len(conv_node.users) == 1 else None
        pool = 2 if conv.act == "none" and pool_node is not None and _is_pool2(gm, pool_node, conv_node) else 1
        gm.add_submodule(conv_node.target, PreactConv1x1(scale, shift, conv.weight, conv.bias, conv.act, pool))
        conv_node.args = (bn_node.args[0],)
        gm.graph.erase_node(relu_node)
        gm.graph.erase_node(bn_node)
        if pool > 1:
            pool_node.replace_all_uses_with(conv_node)
            gm.graph.erase_node(pool_node)
        report.add("bn+relu+conv1x1" + ("+avgpool" if pool > 1 else ""), prefix + conv_node.target)
