"""FX helpers the passes share: tracing with cnnfast's leaf rules, and node matching."""

import operator
from typing import Callable, Dict, Optional, Tuple

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from cnnfast.nn import FUSED_MODULES, Conv2dBiasAct, PreactConv1x1
from cnnfast.nn.concat_buffer import buffer_for_conv, buffer_for_preact, buffer_like, copy_into, joined
from cnnfast.nn.global_avg_pool import global_avg_pool2d
from cnnfast.nn.max_pool2d import max_pool2d

# The functions the passes call in a graph (call_function nodes).
GRAPH_FUNCTIONS = (buffer_for_conv, buffer_for_preact, buffer_like, copy_into, joined, global_avg_pool2d, max_pool2d)


def has_hooks(m: nn.Module) -> bool:
    return bool(m._forward_hooks or m._forward_pre_hooks or getattr(m, "_backward_hooks", None)
                or getattr(m, "_forward_hooks_with_kwargs", None))


class Tracer(fx.Tracer):
    """FX tracer that keeps cnnfast's fused modules and any module with hooks as leaves: tracing
    through a hooked module would run its hooks on proxies and drop them from the result."""

    def __init__(self):
        # cnnfast's own graph functions stay calls when an optimized graph is traced again: pickle
        # re-traces a GraphModule's code with this class when it loads one (torch.load of a whole
        # optimized model), and traced through, their shape checks would branch on proxies.
        super().__init__(autowrap_functions=GRAPH_FUNCTIONS)

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if isinstance(m, FUSED_MODULES + (torch.jit.ScriptModule,)) or has_hooks(m):
            return True
        return super().is_leaf_module(m, qualname)

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        """fx's own lookup scans every named parameter on each access (quadratic: 2.9 s of
        tracing on timm's inception_resnet_v2, whose norm layers are traced through); this one
        looks the tensor up by identity in name tables built once per trace."""
        if not isinstance(attr_val, torch.Tensor):
            return attr_val
        params, buffers = self._names()
        if isinstance(attr_val, nn.Parameter):
            name = params.get(id(attr_val))
        else:
            name = buffers.get(id(attr_val)) if self.proxy_buffer_attributes else None
        if name is None:
            return attr_val
        if name not in parameter_proxy_cache:
            parameter_proxy_cache[name] = self.create_proxy("get_attr", name, (), {})
        return parameter_proxy_cache[name]

    def create_arg(self, a):
        # The same scan in fx's create_arg for a parameter or buffer passed as an argument
        # (timm's norm layers pass their running stats to F.batch_norm): 1.5 s on inception_resnet_v2.
        if isinstance(a, torch.Tensor):
            params, buffers = self._names()
            name = (params if isinstance(a, nn.Parameter) else buffers).get(id(a))
            if name is not None:
                return self.create_node("get_attr", name, (), {})
        return super().create_arg(a)

    def _names(self):
        """id(tensor) -> qualified name, for the parameters and the buffers of the root being traced."""
        if getattr(self, "_names_of", (None,))[0] is not self.root:
            self._names_of = (self.root, {id(p): n for n, p in self.root.named_parameters()},
                              {id(b): n for n, b in self.root.named_buffers()})
        return self._names_of[1], self._names_of[2]


def trace(model: nn.Module) -> fx.GraphModule:
    tracer = Tracer()
    graph = tracer.trace(model)
    # The original forward's return annotation (GoogLeNet's GoogLeNetOutputs, say) describes its
    # training-mode result; the traced eval graph returns what it returns, so drop the claim or
    # TorchScript rejects the module.
    for node in graph.nodes:
        if node.op == "output":
            node.type = None
    name = model.__class__.__name__ if isinstance(model, nn.Module) else "module"
    return fx.GraphModule(tracer.root, graph, name)


def module_of(gm: fx.GraphModule, node: fx.Node) -> Optional[nn.Module]:
    if node.op != "call_module":
        return None
    return gm.get_submodule(node.target)


def replace_with_call(gm: fx.GraphModule, report, prefix: str,
                      match: Callable[[fx.GraphModule, fx.Node], Optional[Tuple]], target: Callable,
                      pattern: str) -> None:
    """Every node for which match(gm, node) gives a tuple of arguments becomes target(*arguments),
    recorded in the report as `pattern` at the node's module path (or name)."""
    for node in list(gm.graph.nodes):
        args = match(gm, node)
        if args is None:
            continue
        with gm.graph.inserting_before(node):
            new = gm.graph.call_function(target, args)
        node.replace_all_uses_with(new)
        gm.graph.erase_node(node)
        report.add(pattern, prefix + (node.target if isinstance(node.target, str) else node.name))


def call_site_counts(gm: fx.GraphModule) -> Dict[str, int]:
    """How many call_module nodes call each module: fusing a module called twice would change
    the other call site too."""
    counts: Dict[str, int] = {}
    for node in gm.graph.nodes:
        if node.op == "call_module":
            counts[node.target] = counts.get(node.target, 0) + 1
    return counts


_ACT_MODULES = {nn.ReLU: "relu", nn.ReLU6: "relu6", nn.SiLU: "silu", nn.Sigmoid: "sigmoid",
                nn.Hardswish: "hardswish", nn.Hardsigmoid: "hardsigmoid", nn.Tanh: "tanh"}
_ACT_FUNCTIONS = {F.relu: "relu", torch.relu: "relu", torch.relu_: "relu", F.relu_: "relu",
                  F.relu6: "relu6", F.silu: "silu", torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid",
                  F.hardswish: "hardswish", F.hardsigmoid: "hardsigmoid",
                  torch.tanh: "tanh", F.tanh: "tanh"}
_ACT_METHODS = {"relu": "relu", "relu_": "relu", "sigmoid": "sigmoid", "sigmoid_": "sigmoid", "tanh": "tanh",
                "tanh_": "tanh"}


def activation_of(gm: fx.GraphModule, node: fx.Node, source: fx.Node) -> Optional[str]:
    """The cnnfast activation name if `node` applies one to `source` (and nothing else), else None."""
    if not node.args or node.args[0] is not source:
        return None
    if node.op == "call_module":
        m = gm.get_submodule(node.target)
        if has_hooks(m):
            return None
        if type(m) is nn.Hardtanh and m.min_val == 0.0 and m.max_val == 6.0:
            return "relu6"
        return _ACT_MODULES.get(type(m))
    if node.op == "call_function":
        if node.target is F.hardtanh:
            lo = node.kwargs.get("min_val", node.args[1] if len(node.args) > 1 else -1.0)
            hi = node.kwargs.get("max_val", node.args[2] if len(node.args) > 2 else 1.0)
            return "relu6" if (lo, hi) == (0.0, 6.0) else None
        return _ACT_FUNCTIONS.get(node.target)
    if node.op == "call_method" and len(node.args) == 1 and not node.kwargs:
        return _ACT_METHODS.get(node.target)
    return None


def reads_metadata(node: fx.Node) -> bool:
    """The node reads only a tensor's shape, rank, dtype or device (timm asserts x.ndim == 4 on
    every norm layer's input): a rewrite that keeps the tensor's shape may move it to a new producer."""
    if node.op == "call_method":
        return node.target in ("size", "dim")
    return (node.op == "call_function" and node.target is getattr
            and node.args[1] in ("shape", "ndim", "dtype", "device"))


def data_users(node: fx.Node):
    """The users of node that read its values."""
    return [u for u in node.users if not reads_metadata(u)]


def is_add(node: fx.Node) -> bool:
    """x + y with no alpha/out, in any spelling; in-place forms report through is_inplace_add."""
    if len(node.args) != 2 or node.kwargs:
        return False
    if node.op == "call_function":
        return node.target in (operator.add, operator.iadd, torch.add)
    return node.op == "call_method" and node.target in ("add", "add_")


def is_inplace_add(node: fx.Node) -> bool:
    return (node.op == "call_function" and node.target is operator.iadd) or (
        node.op == "call_method" and node.target == "add_")


def _mutates(gm: fx.GraphModule, node: fx.Node) -> bool:
    """The node may write into one of its inputs (in-place op), so it matters even unused."""
    if node.is_impure() or node.kwargs.get("inplace", False) or node.target is operator.iadd:
        return True
    if node.op == "call_method":
        return node.target.endswith("_")
    if node.op == "call_function":
        name = getattr(node.target, "__name__", "")
        return name.endswith("_") and not name.startswith("_")
    if node.op == "call_module":
        return bool(getattr(gm.get_submodule(node.target), "inplace", False))
    return False


def is_pointwise_conv(conv: Conv2dBiasAct) -> bool:
    """A plain 1x1 conv: stride 1, no padding or dilation, one group."""
    return (tuple(conv.weight.shape[2:]) == (1, 1) and conv.stride == [1, 1] and conv.padding == [0, 0]
            and conv.dilation == [1, 1] and conv.groups == 1)


def eliminate_dead_code(gm: fx.GraphModule) -> None:
    """Remove nodes whose results nobody reads, keeping in-place ops (FX's own pass drops an unused
    `y.relu_()`, whose effect is on y)."""
    for node in reversed(list(gm.graph.nodes)):
        if node.op not in ("placeholder", "output") and not node.users and not _mutates(gm, node):
            gm.graph.erase_node(node)


def cat_parts(node: fx.Node):
    """The part list of torch.cat(parts, 1) / torch.cat(parts, dim=1), else None."""
    if node.op != "call_function" or node.target is not torch.cat:
        return None
    dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0)
    parts = node.args[0] if node.args else node.kwargs.get("tensors")
    if dim != 1 or not isinstance(parts, (list, tuple)) or not all(isinstance(p, fx.Node) for p in parts):
        return None
    return list(parts)


# Ops whose output has their input's channel count (for sizing buffers without running the model).
_SAME_CHANNEL_MODULES = (nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.MaxPool2d, nn.AvgPool2d, nn.Identity)
_SAME_CHANNEL_FUNCTIONS = {F.max_pool2d, F.avg_pool2d, F.relu, torch.relu}


# node.meta key: the node's shape on the example input, None for a size that varies with the
# batch. Written by cnnfast.capture (route "shapes"), whose guard makes it a fact of every input
# the graph runs on; read through example_shape.
EXAMPLE_SHAPE = "cnnfast_example_shape"


def example_shape(node) -> Optional[tuple]:
    """The node's shape on every input its graph admits, when the graph was captured on an
    example (cnnfast.capture, route "shapes": guarded sizes, None for the batch), else None."""
    return node.meta.get(EXAMPLE_SHAPE) if isinstance(node, fx.Node) else None


def size_read(node, x: fx.Node):
    """What of x's size node reads, in any spelling: d for x.size(d), x.size()[d] or x.shape[d];
    the slice for x.size()[a:b] or x.shape[a:b]; None when node is not such a read of x."""
    if not isinstance(node, fx.Node) or node.kwargs:
        return None
    if node.op == "call_method" and node.target == "size" and len(node.args) == 2 and node.args[0] is x:
        return node.args[1] if isinstance(node.args[1], int) else None
    if node.op == "call_function" and node.target is operator.getitem and isinstance(node.args[0], fx.Node):
        whole, index = node.args
        if (whole.op == "call_method" and whole.target == "size" and whole.args == (x,) and not whole.kwargs) or (
                whole.op == "call_function" and whole.target is getattr and whole.args == (x, "shape")):
            return index if isinstance(index, (int, slice)) else None
    return None


def channel_count(gm: fx.GraphModule, node, memo: Dict[fx.Node, Optional[int]]) -> Optional[int]:
    """Channel count of a 4-D node's output when the graph alone determines it, else None. memo
    caches results; a pass may seed it with counts it knows (nodes it is about to rewrite)."""
    if not isinstance(node, fx.Node):
        return None
    if node in memo:
        return memo[node]
    memo[node] = None  # guards cycles through malformed graphs
    c = None
    if node.op == "call_module":
        m = module_of(gm, node)
        if isinstance(m, (Conv2dBiasAct, PreactConv1x1)):
            c = m.weight.shape[0]
        elif isinstance(m, nn.Conv2d):
            c = m.out_channels
        elif isinstance(m, _SAME_CHANNEL_MODULES) and node.args:
            c = channel_count(gm, node.args[0], memo)
    elif node.op == "call_function":
        parts = cat_parts(node)
        if parts is not None:
            counts = [channel_count(gm, p, memo) for p in parts]
            c = None if None in counts else sum(counts)
        elif node.target is torch.narrow and node.args[1] == 1:
            c = node.args[3]
        elif node.target in _SAME_CHANNEL_FUNCTIONS and node.args:
            c = channel_count(gm, node.args[0], memo)
    if c is None:
        shape = example_shape(node)
        c = shape[1] if shape is not None and len(shape) == 4 else None
    memo[node] = c
    return c
