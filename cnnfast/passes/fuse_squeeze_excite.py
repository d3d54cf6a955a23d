"""Pass: a squeeze-and-excitation block, x * act2(fc2(act1(fc1(pool(x))))) [+ residual] [-> act],
becomes one SqueezeExciteScale call (se_squeeze -> se_excite -> se_scale).

Matched in the traced graph, so it finds cnnfast's SE-ResNet blocks, torchvision's
SqueezeExcitation (MobileNetV3, EfficientNet, RegNetY) and SE blocks written in a user's forward():
the pool is x.mean((2, 3)) / F.adaptive_avg_pool2d(x, 1) / nn.AdaptiveAvgPool2d(1) /
F.avg_pool2d(x, x.size()[2:]) / F.avg_pool2d(x, x.size(2)) (global on square maps only: the fused
module then keeps the model's own computation for other maps) / F.avg_pool2d(x, k) with k fixed
to the map's size by an example-shape capture; each FC layer
a Linear, a 1x1 Conv2d or an already fused Conv2dBiasAct (whose activation then comes along);
any reshapes between them (flatten, view, [:, :, None, None], expand_as) are dropped, as the fused
op takes the (N, C) gate directly. Runs after fuse_activation, so the FC activations and the
conv that produces x are already fused.
"""

import operator
from typing import List, Optional, Tuple

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from cnnfast.nn import Conv2dBiasAct, SqueezeExciteScale
from cnnfast.passes._graph import (activation_of, example_shape, has_hooks, is_add, is_inplace_add, module_of,
                                  reads_metadata, size_read)
from cnnfast.report import Report

_SHAPE_METHODS = {"view", "reshape", "flatten", "unsqueeze", "squeeze", "expand_as", "expand", "contiguous"}
_SHAPE_FUNCTIONS = {torch.flatten, torch.reshape, torch.unsqueeze, torch.squeeze}


def _single_user(node: fx.Node) -> bool:
    return len(node.users) == 1


def _is_shape_op(gm: fx.GraphModule, node: fx.Node, channels: int) -> bool:
    """A reshape of the (N, C) / (N, C, 1, 1) gate that keeps it one value per (image, channel)."""
    if not isinstance(node, fx.Node) or not node.args or not isinstance(node.args[0], fx.Node):
        return False
    if node.op == "call_module":
        m = module_of(gm, node)
        return type(m) in (nn.Identity, nn.Flatten) and not has_hooks(m)
    if node.op == "call_method" and node.target in _SHAPE_METHODS or (
            node.op == "call_function" and node.target in _SHAPE_FUNCTIONS):
        if node.target in ("view", "reshape", torch.reshape):
            # Sizes may be symbolic (x.size(0)) or -1 / 1 / C; anything else could regroup values.
            sizes = node.args[1:] if node.target != torch.reshape else node.args[1:2]
            flat = [v for a in sizes for v in (a if isinstance(a, (tuple, list)) else [a])]
            return all(isinstance(v, fx.Node) or v in (-1, 1, channels) for v in flat)
        return True
    if node.op == "call_function" and node.target is operator.getitem:
        index = node.args[1]
        index = index if isinstance(index, tuple) else (index,)
        return all(i is None or i is Ellipsis or i == slice(None) for i in index)
    return False


def _skip_shape_ops(gm, node, channels, chain: List[fx.Node]) -> fx.Node:
    while _is_shape_op(gm, node, channels) and _single_user(node):
        chain.append(node)
        node = node.args[0]
    return node


def _fc(gm: fx.GraphModule, node: fx.Node):
    """(weight (out, in), bias, activation, input node) if node is a 1x1 FC layer, else None."""
    m = module_of(gm, node)
    if m is None or has_hooks(m) or len(node.args) != 1 or node.kwargs:
        return None
    if type(m) is nn.Linear:
        return m.weight.detach(), (m.bias.detach() if m.bias is not None else None), "none", node.args[0]
    is_1x1 = isinstance(m, (nn.Conv2d, Conv2dBiasAct)) and tuple(m.weight.shape[2:]) == (1, 1)
    if isinstance(m, Conv2dBiasAct) and is_1x1 and m.groups == 1 and list(m.stride) == [1, 1] \
            and list(m.padding) == [0, 0]:
        return m.weight.detach(), (m.bias.detach() if m.bias is not None else None), m.act, node.args[0]
    if type(m) is nn.Conv2d and is_1x1 and m.groups == 1 and m.stride == (1, 1) and m.padding in ((0, 0), "valid") \
            and m.padding_mode == "zeros":
        return m.weight.detach(), (m.bias.detach() if m.bias is not None else None), "none", node.args[0]
    return None


def _fc_act(gm, node: fx.Node, chain: List[fx.Node]):
    """An FC layer, optionally followed by an activation node (when not already fused into it)."""
    if _single_user(node) and node.args and isinstance(node.args[0], fx.Node):
        act = activation_of(gm, node, node.args[0])
        if act is not None:
            inner = _fc(gm, node.args[0])
            if inner is not None and inner[2] == "none" and _single_user(node.args[0]):
                chain += [node, node.args[0]]
                return inner[0], inner[1], act, inner[3]
    found = _fc(gm, node)
    if found is not None and _single_user(node):
        chain.append(node)
    return found


def _size_of(node, x: fx.Node, dims) -> bool:
    """node reads x's sizes `dims`: (2, 3) for x.size()[2:] / x.shape[2:], (d,) for x.size(d)."""
    read = size_read(node, x)
    return (dims == (2, 3) and read == slice(2, None)) or (isinstance(read, int) and dims == (read,))


def _avg_pool_kind(node: fx.Node, x: fx.Node) -> Optional[str]:
    """"global" / "by_height" for F.avg_pool2d(x, kernel) over the whole map (or its height)."""
    names = ["input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"]
    a = {**dict(zip(names, node.args)), **node.kwargs}
    if set(a) - set(names) or a.get("stride") not in (None, [], ()) or a.get("padding", 0) not in (0, (0, 0), [0, 0]):
        return None
    if a.get("ceil_mode", False) or a.get("divisor_override") is not None:
        return None
    k = a.get("kernel_size")
    if _size_of(k, x, (2, 3)) or (isinstance(k, (tuple, list)) and len(k) == 2
                                  and _size_of(k[0], x, (2,)) and _size_of(k[1], x, (3,))):
        return "global"
    shape = example_shape(x)
    if shape is not None and len(shape) == 4 and None not in shape[2:]:  # fixed by the capture
        if k == shape[2] == shape[3] or (isinstance(k, (tuple, list)) and tuple(k) == tuple(shape[2:])):
            return "global"
    return "by_height" if _size_of(k, x, (2,)) else None


def _pool_kind(gm, node: fx.Node, x: fx.Node) -> Optional[str]:
    """"global" if node averages x over its whole map, "by_height" for avg_pool2d(x, x.size(2))."""
    if not isinstance(node, fx.Node) or not node.args or node.args[0] is not x:
        return None
    if node.op == "call_function" and node.target in (F.avg_pool2d, torch._C._nn.avg_pool2d):
        return _avg_pool_kind(node, x)
    return "global" if _is_pool_of(gm, node, x) else None


def _is_pool_of(gm, node: fx.Node, x: fx.Node) -> bool:
    if not isinstance(node, fx.Node) or not node.args or node.args[0] is not x:
        return False
    if node.op == "call_module":
        m = module_of(gm, node)
        return type(m) is nn.AdaptiveAvgPool2d and m.output_size in (1, (1, 1)) and not has_hooks(m)
    if node.op == "call_function" and node.target is F.adaptive_avg_pool2d:
        size = node.args[1] if len(node.args) > 1 else node.kwargs.get("output_size")
        return size in (1, (1, 1), [1, 1])
    if (node.op == "call_method" and node.target == "mean") or (node.op == "call_function" and node.target is torch.mean):
        dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        extra = set(node.kwargs) - {"dim", "keepdim"}
        return not extra and isinstance(dims, (tuple, list)) and sorted(d % 4 for d in dims) == [2, 3]
    return False


def _match(gm, gate: fx.Node, x: fx.Node) -> Optional[Tuple]:
    """Walks back from the gate operand of a multiply; returns (fc1, fc2, chain) or None."""
    chain: List[fx.Node] = []
    if not _single_user(gate):
        return None
    # The expand layer's width is C, which reshapes of the gate may spell out.
    probe, channels = gate, -2
    for _ in range(8):
        m = module_of(gm, probe)
        if isinstance(m, (nn.Linear, nn.Conv2d, Conv2dBiasAct)):
            channels = m.weight.shape[0]
            break
        if not probe.args or not isinstance(probe.args[0], fx.Node):
            break
        probe = probe.args[0]
    node = _skip_shape_ops(gm, gate, channels, chain)
    fc2 = _fc_act(gm, node, chain)
    if fc2 is None:
        return None
    node = _skip_shape_ops(gm, fc2[3], channels, chain)
    fc1 = _fc_act(gm, node, chain)
    if fc1 is None:
        return None
    pool = _skip_shape_ops(gm, fc1[3], channels, chain)
    kind = _pool_kind(gm, pool, x)
    if kind is None or not _single_user(pool):
        return None
    chain.append(pool)
    w1, w2 = fc1[0].reshape(fc1[0].shape[0], -1), fc2[0].reshape(fc2[0].shape[0], -1)
    if w1.shape[1] != w2.shape[0] or w2.shape[1] != w1.shape[0]:
        return None  # not a C -> R -> C bottleneck
    if w1.dtype != w2.dtype or not w1.is_floating_point():
        return None
    return fc1, fc2, chain, kind == "by_height"


def _is_mul(node: fx.Node) -> bool:
    if len(node.args) != 2 or node.kwargs or not all(isinstance(a, fx.Node) for a in node.args):
        return False
    if node.op == "call_function":
        return node.target in (operator.mul, torch.mul)
    return node.op == "call_method" and node.target == "mul"


def _module_name(gm: fx.GraphModule, chain: List[fx.Node]) -> str:
    """Where the fused module goes: in place of the SE module when the chain was all of it
    (torchvision's SqueezeExcitation, SE-ResNet's SqueezeExcite), else next to the FC layers."""
    paths = [n.target.split(".")[:-1] for n in chain if n.op == "call_module"]
    common = paths[0]
    for path in paths[1:]:
        n = 0
        while n < min(len(common), len(path)) and common[n] == path[n]:
            n += 1
        common = common[:n]
    parent = ".".join(common)
    if parent:
        inside = [n for n in gm.graph.nodes if n.op == "call_module" and n.target.startswith(parent + ".")]
        if all(n in chain for n in inside):
            return parent
    base = (parent + "." if parent else "") + "squeeze_excite"
    name, i = base, 1
    while any(name == n or n.startswith(name + ".") for n, _ in gm.named_modules()):
        name, i = f"{base}_{i}", i + 1
    return name


def run(gm: fx.GraphModule, report: Report, prefix: str) -> None:
    for mul in list(gm.graph.nodes):
        if mul.graph is not gm.graph or not _is_mul(mul):
            continue
        a, b = mul.args
        for x, gate in ((a, b), (b, a)):
            found = _match(gm, gate, x)
            if found:
                break
        else:
            continue
        fc1, fc2, chain, by_height = found
        # The residual add and activation after the multiply, as SE-ResNet has them. An in-place
        # add may only mutate the product itself (r += x * s would change r for its other readers).
        tail, residual, act = [mul], None, "none"
        if _single_user(mul):
            add = next(iter(mul.users))
            if is_add(add) and not (is_inplace_add(add) and add.args[0] is not mul):
                other = add.args[1] if add.args[0] is mul else add.args[0]
                if isinstance(other, fx.Node) and other is not mul:
                    tail.append(add)
                    residual = other
                    if _single_user(add):
                        user = next(iter(add.users))
                        found_act = activation_of(gm, user, add)
                        if found_act is not None:
                            tail.append(user)
                            act = found_act
        last = tail[-1]
        # Writing over x is safe when x is a fresh conv output whose values only this block reads
        # (x.size() and the like read metadata, which does not change).
        data_users = {u for u in x.users if u not in chain and not reads_metadata(u)}
        inplace = isinstance(module_of(gm, x), Conv2dBiasAct) and data_users == {mul}
        name = _module_name(gm, chain)
        # Added first (FX checks call_module targets); where it replaces the SE module, the old
        # nodes that name its children are erased below without being looked up.
        gm.add_submodule(name, SqueezeExciteScale(fc1[0], fc1[1], fc2[0], fc2[1], fc1[2], fc2[2], act, inplace,
                                                     pool_by_height=by_height))
        with gm.graph.inserting_before(last):
            new = gm.graph.call_module(name, (x,), {"residual": residual} if residual is not None else {})
        last.replace_all_uses_with(new)
        for node in reversed(tail):  # users before what they use
            gm.graph.erase_node(node)
        for node in chain:  # the gate side, from the gate back to the pool
            gm.graph.erase_node(node)
        pattern = "squeeze-excite" + ("+add" if residual is not None else "") + (f"+{act}" if act != "none" else "")
        report.add(pattern, prefix + name)
