"""optimize()'s walk over a model: capture each module (cnnfast.capture's two routes), run the
pass pipeline on it, and where neither route captures it, do the same for its children."""

import copy
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, Optional, Tuple

import torch
import torch.fx as fx
import torch.nn as nn

from cnnfast.capture import ShapeGuard, example_inputs, rebuild, trace_with_shapes
from cnnfast.nn import FUSED_MODULES
from cnnfast.passes._graph import eliminate_dead_code, has_hooks, trace
from cnnfast.passes.pipeline import PassContext, run_pipeline
from cnnfast.report import Report, error_line


@dataclass
class Job:
    report: Report
    channels_last: bool
    skip: FrozenSet[str]
    root: nn.Module
    args: Optional[Tuple] = None  # the model's example input, if optimize() was given one
    _records: Optional[Dict[nn.Module, Tuple]] = field(default=None, repr=False)

    def example_for(self, m: nn.Module):
        """m's example input: the model's own for the root; for a child, one like what it received
        when the model ran on the example (recorded on first need, by one run)."""
        if self.args is None:
            return None
        if m is self.root:
            return list(self.args)
        if self._records is None:
            self._records = example_inputs(self.root, self.args)
        records = self._records.get(m)
        return rebuild(records) if records else None


def optimize_children(m: nn.Module, job: Job, prefix: str) -> nn.Module:
    for name, child in list(m.named_children()):
        new = optimize_module(child, job, f"{prefix}{name}.")
        if new is not child:
            setattr(m, name, new)
    return m


def _capture(m: nn.Module, job: Job, where: str):
    """(graph, route, guard spec or None), or (None, reason, None) when neither route takes m."""
    try:
        return trace(m), "fx", None
    except Exception as e:  # size arithmetic, data-dependent control flow, unsupported Python, ...
        fx_error = e
    example = job.example_for(m)
    if example is None:
        return None, (f"torch.fx cannot trace it ({error_line(fx_error, 120)}); pass example_input= to capture it "
                      "with shapes"), None
    try:
        gm, spec = trace_with_shapes(m, example)
        return gm, "shapes", spec
    except Exception as e:
        return None, f"neither route captures it (fx: {error_line(fx_error, 120)}; shapes: {error_line(e, 120)})", None


def optimize_module(m: nn.Module, job: Job, prefix: str) -> nn.Module:
    report, where = job.report, prefix.rstrip(".") or "<model>"
    if isinstance(m, torch.jit.ScriptModule):
        report.skip(where, "already a TorchScript module; left as is")
        return m
    if isinstance(m, FUSED_MODULES):
        return m
    if has_hooks(m):
        report.skip(where, "module has hooks; its own forward is kept, its children are optimized")
        return optimize_children(m, job, prefix)
    gm, route, spec = _capture(m, job, where)
    if gm is None:
        if next(m.children(), None) is not None:
            report.skip(where, f"{route}; optimizing its children one by one")
            return optimize_children(m, job, prefix)
        return m
    for node in gm.graph.nodes:
        if node.op == "call_module" and isinstance(gm.get_submodule(node.target), torch.jit.ScriptModule):
            report.skip(prefix + node.target, "already a TorchScript module; left as is")
    # The passes replace submodules inside m's own children; the guard's fallback must not see
    # that. They never write into a tensor, so the copy shares every parameter and buffer.
    original = _structural_copy(m) if spec is not None else None
    if not run_pipeline(gm, PassContext(report, prefix, job.channels_last), job.skip):
        return m  # nothing fused here: keep the original module, untouched
    eliminate_dead_code(gm)
    gm.graph.lint()
    gm.delete_all_unused_submodules()
    gm.recompile()
    report.captures.append((where, route))
    result = single_call_or(gm)
    if result is not gm:  # the module is now its one submodule: its record goes by the module's path
        only = prefix + next(n.target for n in gm.graph.nodes if n.op == "call_module")
        report.sites[:] = [(where if w == only else w, p) for w, p in report.sites]
    if spec is not None:
        return ShapeGuard(result, original, spec, where)
    return result


def _structural_copy(m: nn.Module) -> nn.Module:
    shared = {id(t): t for t in list(m.parameters()) + list(m.buffers())}
    return copy.deepcopy(m, memo=shared)


def single_call_or(gm: fx.GraphModule) -> nn.Module:
    """The one submodule a graph calls on its input, when that is all the graph does (a model
    fuse_small_cnn turned into one SmallCNN): calling it directly saves the GraphModule's own
    Python call, ~2 us per forward, a tenth of LeNet-5's time."""
    nodes = list(gm.graph.nodes)
    if ([n.op for n in nodes] == ["placeholder", "call_module", "output"] and nodes[1].args == (nodes[0],)
            and not nodes[1].kwargs and nodes[2].args == (nodes[1],) and not nodes[0].args):
        only = gm.get_submodule(nodes[1].target)
        only.train(gm.training)  # modules a pass builds start in training mode; the graph was eval
        return only
    return gm
