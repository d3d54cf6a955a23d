"""Pass: every eligible Conv2d becomes a Conv2dBiasAct, folding the eval-mode BatchNorm after it."""

from types import SimpleNamespace

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from cnnfast.nn import Conv2dBiasAct, fold_batchnorm
from cnnfast.passes._graph import call_site_counts, data_users, has_hooks, module_of
from cnnfast.report import Report


def _explicit_padding(conv: nn.Conv2d):
    """Zero padding as two numbers, or None when it cannot be expressed exactly."""
    if conv.padding_mode != "zeros":
        return None
    if isinstance(conv.padding, str):
        if conv.padding == "valid":
            return (0, 0)
        # 'same': symmetric only when dilation * (k - 1) is even in both dims.
        total = [d * (k - 1) for d, k in zip(conv.dilation, conv.kernel_size)]
        if any(t % 2 for t in total):
            return None
        return tuple(t // 2 for t in total)
    return tuple(conv.padding)


def _conv_skip_reason(conv: nn.Conv2d, calls: int):
    if type(conv) is not nn.Conv2d:
        return f"{type(conv).__name__} is a Conv2d subclass whose forward may differ"
    if calls > 1:
        return f"conv module is called at {calls} sites; fusing one would change the others"
    if has_hooks(conv):
        return "conv has forward hooks"
    if conv.padding_mode != "zeros":
        return f"padding_mode={conv.padding_mode!r} is not fused (only zero padding is exact)"
    if _explicit_padding(conv) is None:
        return "asymmetric 'same' padding is not fused"
    if not conv.weight.is_floating_point():
        return "non-floating weights"
    return None


def _bn_skip_reason(bn: nn.Module, calls: int, conv: nn.Conv2d):
    if type(bn) is not nn.BatchNorm2d:
        return f"{type(bn).__name__} is not a plain BatchNorm2d"
    if calls > 1:
        return f"BatchNorm is called at {calls} sites"
    if bn.training:
        return "BatchNorm is in training mode"
    if not bn.track_running_stats or bn.running_mean is None:
        return "BatchNorm has no running stats (normalises with batch statistics)"
    if has_hooks(bn):
        return "BatchNorm has forward hooks"
    tensors = [t for t in (bn.running_mean, bn.weight) if t is not None]
    if any(t.dtype != conv.weight.dtype or t.device != conv.weight.device for t in tensors):
        # Eager PyTorch raises on this mix; folding would quietly make it work in another dtype.
        return (f"BatchNorm is {tensors[0].dtype} on {tensors[0].device} but the conv is "
                f"{conv.weight.dtype} on {conv.weight.device}")
    return None


def _attr(gm: fx.GraphModule, node):
    """The tensor a get_attr node reads (None for a literal None), or False for anything else."""
    if node is None:
        return None
    if not isinstance(node, fx.Node) or node.op != "get_attr":
        return False
    value = gm
    for atom in node.target.split("."):
        value = getattr(value, atom, None)
    return value if isinstance(value, torch.Tensor) else False


def _functional_bn(gm: fx.GraphModule, node: fx.Node, x: fx.Node, conv: nn.Conv2d):
    """The eval-mode statistics of F.batch_norm(x, mean, var, weight, bias, training=False, ...)
    read from the model (timm's BatchNormAct2d traces to this), as a BN-like object, else None."""
    if node.op != "call_function" or node.target is not F.batch_norm or node.args[:1] != (x,):
        return None
    names = ["input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps"]
    a = {**dict(zip(names, node.args)), **node.kwargs}
    if set(a) - set(names) or a.get("training", False) is not False:
        return None
    stats = {k: _attr(gm, a.get(k)) for k in ("running_mean", "running_var", "weight", "bias")}
    if any(v is False for v in stats.values()) or stats["running_mean"] is None or stats["running_var"] is None:
        return None
    if any(v is not None and (v.dtype != conv.weight.dtype or v.device != conv.weight.device) for v in stats.values()):
        return None
    return SimpleNamespace(eps=float(a.get("eps", 1e-5)), **stats)


def run(gm: fx.GraphModule, report: Report, prefix: str, channels_last: bool) -> None:
    calls = call_site_counts(gm)
    for node in list(gm.graph.nodes):
        conv = module_of(gm, node)
        if not isinstance(conv, nn.Conv2d) or len(node.args) != 1 or node.kwargs:
            continue
        where = prefix + node.target
        reason = _conv_skip_reason(conv, calls[node.target])
        if reason:
            report.skip(where, reason)
            continue
        bn = None
        users = data_users(node)  # timm's norm layers assert on x.ndim first
        if len(users) == 1 and _functional_bn(gm, users[0], node, conv) is not None:
            bn = _functional_bn(gm, users[0], node, conv)
        elif (len(users) == 1 and len(users[0].args) == 1 and not users[0].kwargs
                and isinstance(module_of(gm, users[0]), nn.modules.batchnorm._BatchNorm)):
            candidate = module_of(gm, users[0])
            bn_reason = _bn_skip_reason(candidate, calls[users[0].target], conv)
            if bn_reason:
                report.skip(prefix + users[0].target, bn_reason + "; not folded")
            else:
                bn = candidate
        padding = _explicit_padding(conv)
        # copy=False: the model is optimize()'s own copy (or the user asked for inplace=True)
        fused = Conv2dBiasAct(*fold_batchnorm(conv, bn, copy=False), conv.stride, padding, conv.dilation, conv.groups,
                              "none", channels_last)
        gm.add_submodule(node.target, fused)
        if bn is not None:
            bn_node = users[0]
            bn_node.replace_all_uses_with(node)
            gm.graph.erase_node(bn_node)
            report.add("conv+bn", where)
        else:
            report.add("conv", where)

