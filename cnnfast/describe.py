"""What the optimized model is, read off the result rather than the passes' history: each fused
module once with its pattern, every Conv2d / BatchNorm2d / Linear left as it was with the reason,
and fused/total per kind."""

from collections import Counter
from typing import Dict, Iterator, List, Tuple

import torch.fx as fx
import torch.nn as nn

from cnnfast.capture import ShapeGuard
from cnnfast.nn import Conv2dBiasAct, LinearBiasAct, PreactConv1x1, SmallCNN, SqueezeExciteScale
from cnnfast.passes import avg_pool_as_conv

KINDS = (nn.Conv2d, nn.BatchNorm2d, nn.Linear)

# Why a layer of each kind is left when no pass said more.
_DEFAULT_REASON = {
    "Conv2d": "not called as conv(x) in a captured graph",
    "BatchNorm2d": "not directly after a conv it could fold into, nor before ReLU -> 1x1 conv",
    "Linear": "not called as linear(x) in a captured graph",
}

# Rewrites that are not a module of the result: kept from the passes' record as they were.
_GRAPH_LEVEL = ("concat in place", "channel shuffle", "shuffle order", "shuffled tensor", "max_pool2d",
                "max pool writes into concat", "global_avg_pool2d", "dropout removed")


def _kind(m: nn.Module):
    """"Conv2d" / "BatchNorm2d" / "Linear" for those and their subclasses (timm's BatchNormAct2d,
    StdConv2d, ...), else None."""
    return next((k.__name__ for k in KINDS if isinstance(m, k)), None)


def count_layers(model: nn.Module) -> Counter:
    return Counter(k for _, m in _walk(model) if (k := _kind(m)) is not None)


def _walk(model: nn.Module, prefix: str = "") -> Iterator[Tuple[str, nn.Module]]:
    """named_modules() without the original copies a ShapeGuard keeps for other shapes, and
    without looking inside TorchScript modules."""
    yield prefix, model
    if isinstance(model, ShapeGuard):
        yield from _walk(model.captured, prefix)
        return
    for name, child in model.named_children():
        yield from _walk(child, f"{prefix}.{name}" if prefix else name)


def _live(model: nn.Module) -> Dict[str, bool]:
    """path -> whether the module still computes: inside a GraphModule, only if the graph calls it
    or reads its own parameters (a BN folded into a conv stays in the tree while its child, the
    activation, is called); outside any graph (parts run eagerly), always."""
    live: Dict[str, bool] = {}

    def visit(m: nn.Module, path: str, used) -> None:
        if isinstance(m, ShapeGuard):
            return visit(m.captured, path, used)
        if isinstance(m, fx.GraphModule):
            base = path + "." if path else ""
            used = set()
            for node in m.graph.nodes:
                if node.op == "call_module":
                    used.add(base + node.target)
                elif node.op == "get_attr":
                    used.add(base + node.target.rsplit(".", 1)[0] if "." in node.target else path)
        live[path] = used is None or path in used
        for name, child in m.named_children():
            visit(child, f"{path}.{name}" if path else name, used)

    visit(model, "", None)
    return live


def _calls(model: nn.Module) -> Dict[int, List[fx.Node]]:
    """id(module) -> the graph nodes that call it, over every GraphModule in the result."""
    calls: Dict[int, List[fx.Node]] = {}
    for _, gm in _walk(model):
        if isinstance(gm, fx.GraphModule):
            for node in gm.graph.nodes:
                if node.op == "call_module":
                    calls.setdefault(id(gm.get_submodule(node.target)), []).append(node)
    return calls


def _conv_pattern(m: Conv2dBiasAct, nodes: List[fx.Node], history: List[str]) -> str:
    if avg_pool_as_conv.PATTERN in history:
        return avg_pool_as_conv.PATTERN
    merged = next((p.split(" ")[0] for p in history if "sibling" in p), None)
    p = (f"{merged} sibling convs" if merged else "conv") + ("+bn" if "conv+bn" in history else "")
    if any("residual" in n.kwargs for n in nodes):
        p += "+add"
    if m.act != "none":
        p += "+" + m.act
    # (a micro-batch region's last conv takes its chunk's slice of the output as `out`, a placeholder)
    if any(isinstance(n.kwargs.get("out"), fx.Node) and n.kwargs["out"].op != "placeholder" for n in nodes):
        p += " into cat slice"
    return p


def _pattern(m: nn.Module, nodes, history: List[str]):
    if isinstance(m, Conv2dBiasAct):
        return _conv_pattern(m, nodes, history)
    if isinstance(m, PreactConv1x1):
        return next((p for p in history if p.startswith("bn+relu+conv1x1")), "bn+relu+conv1x1")
    if isinstance(m, SqueezeExciteScale):
        return next((p for p in history if p.startswith("squeeze-excite")), "squeeze-excite")
    if isinstance(m, LinearBiasAct):
        return "linear" + ("" if m.act == "none" else "+" + m.act)
    if isinstance(m, SmallCNN):
        return "small_cnn (whole network)"
    return None


def _reason(path: str, kind: str, skipped: List[Tuple[str, str]]) -> str:
    best = None
    for where, why in skipped:  # the most specific skip at or above the layer
        w = "" if where == "<model>" else where
        if path == w or path.startswith(w + ".") or w == "":
            if best is None or len(w) > len(best[0]):
                best = (w, why)
    if best is not None and best[0] == path:
        return best[1]
    if best is not None and ("cannot trace" in best[1] or "captures it" in best[1] or "hooks" in best[1]
                             or "TorchScript" in best[1] or "failed" in best[1]):
        return f"inside {best[0] or '<model>'}: {best[1]}"
    return _DEFAULT_REASON[kind]


def describe(model: nn.Module, report) -> None:
    """Fill report.final, report.unfused and report.coverage from the optimized model."""
    history: Dict[str, List[str]] = {}
    for where, pattern in report.sites:
        history.setdefault(where, []).append(pattern)
    calls = _calls(model)
    report.final = []
    for path, m in _walk(model):
        pattern = _pattern(m, calls.get(id(m), []), history.get(path or "<model>", []))
        if pattern is not None:
            report.final.append((path or "<model>", pattern))
    report.final += [(w, p) for w, p in report.sites if p.startswith(_GRAPH_LEVEL)]
    live = _live(model)
    report.unfused = [(path, k, _reason(path, k, report.skipped))
                      for path, m in _walk(model) if (k := _kind(m)) is not None and live.get(path, True)]
    left = Counter(kind for _, kind, _ in report.unfused)
    report.coverage = {kind: (n - left[kind], n) for kind, n in report.layers_before.items()}
