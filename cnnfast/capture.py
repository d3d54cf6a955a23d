"""How optimize() turns a module into a graph the passes can rewrite: two capture routes.

Route "fx" is torch.fx's symbolic trace (cnnfast.passes._graph.trace): no input needed, every
shape stays symbolic, so the graph is valid for any input. It fails on size arithmetic such as
ShuffleNet's `int(x.size(1) * ratio)` or a branch on a shape.

Route "shapes" traces the same module-level graph (same node kinds and module names, so every pass
matches it the same way) while running each op beside its proxy on a fake tensor shaped like the
example input (FakeTensorMode: shapes and dtypes, no arithmetic): a size query answers with
numbers, so `int()` and `if` on sizes work. Channel counts are fixed by the
weights anyway; height, width, dtype and the rank are specialised to the example's and guarded.
The batch stays symbolic (x.size(0) is a graph node) when two traces at two batch sizes give the
same code; otherwise it is guarded too. ShapeGuard runs the captured graph only on inputs the
guard admits, and the untouched original module on anything else, with a warning: never a graph
specialised for another shape. A branch on tensor values still fails, as it must.
"""

import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.fx as fx
import torch.nn as nn
from torch._subclasses.fake_tensor import FakeTensorMode

from cnnfast.passes._graph import EXAMPLE_SHAPE, Tracer
from cnnfast.pre_hooks import run_with_pre_hook

_SHAPE_ATTRS = ("shape", "size", "dim", "ndim", "numel", "ndimension", "dtype", "device")


class _ShapeProxy(fx.Proxy):
    """A proxy that answers shape questions with its example value's numbers (dim 0 as a graph
    node when the tracer keeps the batch symbolic)."""

    def __getattr__(self, k: str):
        if k not in _SHAPE_ATTRS:
            return super().__getattr__(k)
        value = self.tracer.values[self.node]
        if not isinstance(value, torch.Tensor):
            return super().__getattr__(k)
        if k == "shape":
            return self._sizes()
        if k == "size":
            return lambda dim=None: self._sizes() if dim is None else self._sizes()[dim]
        if k == "ndim":
            return value.dim()
        if k in ("dim", "ndimension"):
            return value.dim
        if k == "numel":
            return value.numel
        return getattr(value, k)  # dtype, device

    def _sizes(self) -> Tuple:
        value = self.tracer.values[self.node]
        sizes = list(value.shape)
        if self.tracer.symbolic_batch and sizes:
            sizes[0] = self.tracer.create_proxy("call_method", "size", (self, 0), {})
        return tuple(sizes)

    def __len__(self) -> int:
        return len(self.tracer.values[self.node])


class ShapeTracer(Tracer):
    """cnnfast's tracer (its fused modules and hooked modules stay leaves) carrying each node's
    value on the example input."""

    def __init__(self, example: Sequence[torch.Tensor], symbolic_batch: bool):
        super().__init__()
        # Ops run on fake tensors (shapes, dtypes, no data): a capture costs no arithmetic, and
        # the parameters, real tensors, take part as they are.
        self.fake = FakeTensorMode(allow_non_fake_inputs=True)
        self.example = [self.fake.from_tensor(x) for x in example]
        self.symbolic_batch = symbolic_batch
        self.values: Dict[fx.Node, Any] = {}
        self._running = 0  # > 0 while an op runs on example values: the tracer's patches stand aside

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        return attr_val if self._running else super().getattr(attr, attr_val, parameter_proxy_cache)

    def call_module(self, m, forward, args, kwargs):
        return forward(*args, **kwargs) if self._running else super().call_module(m, forward, args, kwargs)

    def proxy(self, node: fx.Node) -> fx.Proxy:
        return _ShapeProxy(node, self)

    def _value(self, a):
        return fx.node.map_aggregate(a, lambda x: self.values[x.node] if isinstance(x, fx.Proxy) else x)

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None, proxy_factory_fn=None):
        if kind == "placeholder":
            if not self.example:
                raise TypeError("the example input has fewer tensors than forward() takes")
            value = self.example.pop(0)
        elif kind == "get_attr":
            value = self.root
            for atom in target.split("."):
                value = getattr(value, atom)
        else:
            a, kw = self._value(args), self._value(kwargs)
            self._running += 1
            try:
                with self.fake:
                    if kind == "call_module":
                        value = self.root.get_submodule(target)(*a, **kw)
                    elif kind == "call_function":
                        value = target(*a, **kw)
                    else:  # call_method
                        value = getattr(a[0], target)(*a[1:], **kw)
            finally:
                self._running -= 1
        proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr, proxy_factory_fn)
        self.values[proxy.node] = value
        if isinstance(value, torch.Tensor):
            proxy.node.meta[EXAMPLE_SHAPE] = tuple(value.shape)
        return proxy


def _trace(module: nn.Module, example: Sequence[torch.Tensor], symbolic_batch: bool) -> fx.GraphModule:
    tracer = ShapeTracer(example, symbolic_batch)
    with torch.inference_mode():
        graph = tracer.trace(module)
    for node in graph.nodes:
        if node.op == "output":
            node.type = None  # as cnnfast.passes._graph.trace: the eval graph returns what it returns
    return fx.GraphModule(tracer.root, graph, module.__class__.__name__)


def _grown(example: Sequence[torch.Tensor], extra: int) -> List[torch.Tensor]:
    return [torch.cat([x] + [x[:1]] * extra) for x in example]


def _keep_common_shapes(gm: fx.GraphModule, other: fx.GraphModule) -> None:
    """Sizes that changed with the batch become None; a node whose rank changed loses its shape."""
    for a, b in zip(gm.graph.nodes, other.graph.nodes):
        sa, sb = a.meta.get(EXAMPLE_SHAPE), b.meta.get(EXAMPLE_SHAPE)
        if sa is None or sb is None or len(sa) != len(sb):
            a.meta.pop(EXAMPLE_SHAPE, None)
        else:
            a.meta[EXAMPLE_SHAPE] = tuple(x if x == y else None for x, y in zip(sa, sb))


def trace_with_shapes(module: nn.Module, example: Sequence[torch.Tensor]) -> Tuple[fx.GraphModule, List]:
    """The module's graph captured on `example` (positional tensors, batched along dim 0), and the
    guard spec: per input, its shape with None where any size is admitted (the batch, when the
    graph is the same at two batch sizes), plus its dtype and device."""
    example = [x for x in example]
    if not example or not all(isinstance(x, torch.Tensor) and x.dim() >= 1 for x in example):
        raise TypeError("capture with shapes needs positional tensor inputs with a batch dimension")
    symbolic = True
    try:
        gm = _trace(module, example, symbolic_batch=True)
        # Any number derived from the batch that was baked into the graph shows up as different
        # code at another batch size (+2: a batch-1 special case and b // 2 both change).
        other = _trace(module, _grown(example, 2), symbolic_batch=True)
        if other.code != gm.code:
            raise ValueError("the graph depends on the batch size")
        _keep_common_shapes(gm, other)
    except Exception:  # int()/if on the batch, or a constant that depends on it: fix it too
        symbolic = False
        gm = _trace(module, example, symbolic_batch=False)
    spec = [((None,) if symbolic else (x.shape[0],)) + tuple(x.shape[1:]) for x in example]
    return gm, [(s, x.dtype, x.device) for s, x in zip(spec, example)]


def _admits(spec, args) -> bool:
    if len(args) != len(spec):
        return False
    for (shape, dtype, device), x in zip(spec, args):
        if not isinstance(x, torch.Tensor) or x.dim() != len(shape) or x.dtype != dtype or x.device != device:
            return False
        if any(s is not None and s != n for s, n in zip(shape, x.shape)):
            return False
    return True


class ShapeGuard(nn.Module):
    """A graph captured for the shapes in `spec`, and the original module for any other input."""

    def __init__(self, captured: nn.Module, original: nn.Module, spec, where: str):
        super().__init__()
        self.captured, self.original, self.spec, self.where = captured, original, spec, where
        self._warned = False

    def forward(self, *args):
        if _admits(self.spec, args):
            return self.captured(*args)
        if not self._warned:
            self._warned = True
            shapes = [tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__ for x in args]
            expected = ["(" + ", ".join("N" if s is None else str(s) for s in shape) + ")" for shape, _, _ in self.spec]
            warnings.warn(f"cnnfast: {self.where} was optimized for inputs {expected} and got {shapes}: running the "
                          "original module for these (pass such an input as optimize(example_input=...) to "
                          "optimize for it)", stacklevel=2)
        return self.original(*args)

    def extra_repr(self) -> str:
        return f"where={self.where!r}, spec={[s for s, _, _ in self.spec]}"


def example_inputs(model: nn.Module, args: Tuple) -> Dict[nn.Module, Tuple]:
    """Each submodule's positional tensor inputs on its first call while `model(*args)` runs, as
    (shape, dtype, device, channels_last) records: a child's example is rebuilt from them only when
    its own capture needs it, so no activations are held."""
    seen: Dict[nn.Module, Tuple] = {}

    def record(m, inputs):
        if m not in seen and inputs and all(isinstance(x, torch.Tensor) for x in inputs):
            seen[m] = tuple((tuple(x.shape), x.dtype, x.device,
                             x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
                             and not x.is_contiguous()) for x in inputs)

    run_with_pre_hook(model, args, record)
    return seen


def rebuild(records) -> Optional[List[torch.Tensor]]:
    out = []
    for shape, dtype, device, cl in records:
        if not (dtype.is_floating_point or dtype.is_complex):
            return None  # indices or masks: random values would not be a faithful example
        x = torch.randn(shape, dtype=dtype, device=device)
        out.append(x.contiguous(memory_format=torch.channels_last) if cl else x)
    return out
