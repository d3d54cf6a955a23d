"""Pass: a whole small network (LeNet-like: fused convs, each optionally followed by a pool, a
flatten, then fused linear layers, one chain from input to output) becomes one SmallCNN, i.e.
one cnnfast.ops.small_cnn call.

At LeNet-5's size every layer is about a microsecond of arithmetic and several microseconds of
framework overhead; one call removes the overhead between layers (benchmarks/ops/bench_small_cnn.py).
Bigger networks keep their per-layer ops: their oneDNN convolutions are far faster than the
direct loops small_cnn uses. Runs last, after the passes that build the fused convs, linears and
max pools it collects."""

from typing import List, Optional

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from cnnfast.nn import Conv2dBiasAct, LinearBiasAct, SmallCNN
from cnnfast.nn.max_pool2d import max_pool2d
from cnnfast.contracts.small_cnn_program import FIELDS, LINEAR, conv_layer, linear_layer
from cnnfast.passes._graph import has_hooks, module_of, size_read
from cnnfast.report import Report

# Above this many weights a network's convolutions are no longer small: LeNet-5 has 61,706.
MAX_PARAMS = 1_000_000


def _square(v) -> Optional[int]:
    v = [v, v] if isinstance(v, int) else list(v)
    return int(v[0]) if len(v) == 2 and v[0] == v[1] and all(isinstance(i, int) for i in v) else None


def _conv(m) -> Optional[List[int]]:
    if not isinstance(m, Conv2dBiasAct) or m.groups != 1 or list(m.dilation) != [1, 1]:
        return None
    s, p = _square(m.stride), _square(m.padding)
    return None if s is None or p is None else conv_layer(s, p, m.act)


def _pool(gm: fx.GraphModule, node: fx.Node):
    """("avg" | "max", k) for a k x k pool with stride k, no padding, floor mode; else None."""
    m = module_of(gm, node)
    if type(m) is nn.AvgPool2d and not has_hooks(m) and len(node.args) == 1 and not node.kwargs:
        k = _square(m.kernel_size)
        s = k if m.stride is None or m.stride in ((), []) else _square(m.stride)
        if k and s == k and _square(m.padding) == 0 and not m.ceil_mode and m.divisor_override is None:
            return "avg", k
    if node.op == "call_function" and node.target in (F.avg_pool2d, torch._C._nn.avg_pool2d):
        names = ["input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"]
        a = {**dict(zip(names, node.args)), **node.kwargs}
        k = _square(a["kernel_size"]) if not isinstance(a.get("kernel_size"), fx.Node) else None
        stride = a.get("stride")
        s = k if stride is None or stride in ((), []) else (None if isinstance(stride, fx.Node) else _square(stride))
        if (k and s == k and a.get("padding", 0) in (0, (0, 0), [0, 0]) and a.get("ceil_mode", False) is False
                and a.get("divisor_override") is None):
            return "avg", k
    if node.op == "call_function" and node.target is max_pool2d and len(node.args) == 5:
        _, kernel, stride, padding, ceil = node.args
        k = _square(kernel)
        if k and _square(stride) == k and _square(padding) == 0 and ceil is False:
            return "max", k
    return None


def _batch_size_of(node, x: fx.Node) -> bool:
    read = size_read(node, x)
    return isinstance(read, int) and read == 0


def _size_nodes(x: fx.Node, flatten: fx.Node) -> List[fx.Node]:
    """The nodes that only read x's batch size for its flatten (x.view(x.size(0), -1) reads x
    twice), in graph order."""
    n = flatten.args[1] if len(flatten.args) > 1 else None
    if not _batch_size_of(n, x) or len(n.users) != 1:
        return []
    inner = n.args[0]
    return [inner, n] if inner is not x and len(inner.users) == 1 else [n]


def _is_flatten(gm: fx.GraphModule, node: fx.Node) -> bool:
    if node.op == "call_method" and node.target in ("view", "reshape") and not node.kwargs:
        # x.view(x.size(0), -1) / x.reshape(N, -1), N being x's batch size: the user's flatten
        return len(node.args) == 3 and node.args[2] == -1 and _batch_size_of(node.args[1], node.args[0])
    m = module_of(gm, node)
    if type(m) is nn.Flatten and not has_hooks(m):
        return m.start_dim == 1 and m.end_dim == -1 and len(node.args) == 1 and not node.kwargs
    if node.op == "call_function" and node.target is torch.flatten:
        args = list(node.args[1:]) + [node.kwargs.get(k) for k in ("start_dim", "end_dim") if k in node.kwargs]
        return args in ([1], [1, -1])
    return False


def run(gm: fx.GraphModule, report: Report, prefix: str) -> None:
    inputs = [n for n in gm.graph.nodes if n.op == "placeholder"]
    output = next(n for n in gm.graph.nodes if n.op == "output")
    if len(inputs) != 1:
        return
    weights, biases, program, chain = [], [], [], []
    cur, flat, pooled = inputs[0], False, True
    while True:
        users = list(cur.users)
        flatten = [u for u in users if u.op == "call_method" and _is_flatten(gm, u) and u.args[0] is cur]
        extra = _size_nodes(cur, flatten[0]) if len(flatten) == 1 else []
        if len(users) != 1 + len([n for n in extra if n.args[0] is cur]):
            break
        node = flatten[0] if extra else users[0]
        if node is output or node.args[:1] != (cur,):
            break
        m = module_of(gm, node)
        conv = _conv(m) if node.kwargs == {} and len(node.args) == 1 else None
        pool = _pool(gm, node)
        if conv is not None and not flat and not has_hooks(m):
            weights.append(m.weight), biases.append(m.bias), program.extend(conv)
            pooled = False
        elif pool is not None and program and not flat and not pooled:
            program[-2:] = conv_layer(pool=pool[0], pool_size=pool[1])[-2:]
            pooled = True
        elif _is_flatten(gm, node) and program and not flat:
            flat = True
        elif isinstance(m, LinearBiasAct) and flat and len(node.args) == 1 and not node.kwargs and not has_hooks(m):
            weights.append(m.weight), biases.append(m.bias), program.extend(linear_layer(m.act))
        else:
            break
        chain.extend(extra + [node])
        cur = node
    if not (flat and program and program[-FIELDS] == LINEAR and output.args == (cur,)):
        return  # not one chain of convs, pools, a flatten and linear layers from input to output
    if len({w.dtype for w in weights}) != 1 or sum(w.numel() for w in weights) > MAX_PARAMS:
        return
    name = "small_cnn"
    while hasattr(gm, name):
        name += "_"
    gm.add_submodule(name, SmallCNN(weights, biases, program))
    with gm.graph.inserting_before(output):
        new = gm.graph.call_module(name, (inputs[0],))
    output.replace_input_with(cur, new)
    for node in reversed(chain):
        gm.graph.erase_node(node)
    report.add("small_cnn (whole network in one call)", prefix + name)
