"""Pass: Dropout (and torchvision's stochastic depth) in eval mode is the identity: remove it, and
nn.Identity with it (timm's norm layers call `self.drop`, an Identity, between the BN and the
activation, which would keep the activation out of the conv's epilogue; not reported: nothing
is fused by it).

That also lets the residual pass see EfficientNet's `stochastic_depth(block(x)) + x` as conv + add."""

import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from cnnfast.passes._graph import has_hooks, module_of
from cnnfast.report import Report

_DROPOUT_MODULES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
                    nn.FeatureAlphaDropout)
_DROPOUT_FUNCTIONS = (F.dropout, F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout,
                      F.feature_alpha_dropout)


def _stochastic_depth():
    try:
        from torchvision.ops import stochastic_depth
        return stochastic_depth
    except ImportError:
        return None


def _is_identity_dropout(gm, node) -> bool:
    if node.op == "call_module":
        m = module_of(gm, node)
        return type(m) in _DROPOUT_MODULES and not m.training and not has_hooks(m)
    if node.op == "call_function" and node.target in _DROPOUT_FUNCTIONS:
        training = node.kwargs.get("training", node.args[2] if len(node.args) > 2 else True)
        return training is False
    if node.op == "call_function" and node.target is _stochastic_depth():
        # stochastic_depth(input, p, mode, training=True)
        training = node.kwargs.get("training", node.args[3] if len(node.args) > 3 else True)
        return training is False
    return False


def _is_identity_module(gm, node) -> bool:
    m = module_of(gm, node)
    return type(m) is nn.Identity and not has_hooks(m) and len(node.args) == 1 and not node.kwargs


def run(gm: fx.GraphModule, report: Report, prefix: str) -> None:
    for node in list(gm.graph.nodes):
        if _is_identity_module(gm, node) and isinstance(node.args[0], fx.Node):
            node.replace_all_uses_with(node.args[0])
            gm.graph.erase_node(node)
            continue
        if _is_identity_dropout(gm, node) and isinstance(node.args[0], fx.Node):
            node.replace_all_uses_with(node.args[0])
            gm.graph.erase_node(node)
            report.add("dropout removed", prefix + (node.target if node.op == "call_module" else node.name))
