"""Pass: a conv whose residual nothing reads afterwards stores its result over the residual.

ONNX Runtime's fused Sum accumulates into the skip's buffer; cnnfast wrote a fresh output, which
costs a read-for-ownership of every output line on top of the residual's read (ResNet-50's
64->256 expansions at 56x56, batch 8: 25.4 ms against ONNX Runtime's 18.1 on AMD EPYC Zen 4,
benchmarks/results/cpu_layer_profile.md). Measured with and without this pass, alternated in one
process (benchmarks/results/cpu_reuse_residual.md): ResNet-50 0.97-0.98x and ResNeXt-50
0.97-0.99x at batch 8 (Intel Xeon), no change at batch 1 or in the small models.

The pass only marks the module (Conv2dBiasAct.reuse_residual); at run time the module writes in
place only where the residual is a float32 channels_last CPU tensor of the output's shape that
needs no gradient and holds at least Conv2dBiasAct.min_in_place_floats values an image, so a model
moved to a GPU or to bf16 computes as before.

Which convs: 1x1 ones without padding and with one group, on the CPU in fp32 with cnnfast's conv
engine present, so their kernel (the engine or the direct 1x1 kernel) stores through its tile
epilogue, reading each residual value before writing it (RegNet's strided projections take the
main branch's output as their residual). Other kernels (oneDNN, Winograd) would need a copy
or a fallback to stay correct with an aliased residual (ResNet-18's 3x3: 1.19-1.24x slower).

When the residual is dead after the conv, on the graph: it is a tensor of the model's own making
(a fused conv's output written to a fresh tensor, or cnnfast's max pool), never an input, a
parameter, a view or a graph output; every other reader is a fused conv that runs before this
one and returns a new tensor; the conv does not read it as its input; and the module has one
call site (a second one would inherit the flag).
"""

from typing import Dict

import torch
import torch.fx as fx

from cnnfast import config
from cnnfast.nn import Conv1x1Depthwise, Conv1x1DepthwiseMean, Conv2dBiasAct, Conv2dBiasActMean, PreactConv1x1
from cnnfast.nn.max_pool2d import max_pool2d
from cnnfast.passes._graph import call_site_counts, module_of
from cnnfast.report import Report

# Modules whose forward returns a tensor it allocated (never a view of an argument) unless given
# an `out` to write into.
_NEW_TENSOR_MODULES = (Conv1x1Depthwise, Conv1x1DepthwiseMean, Conv2dBiasAct, Conv2dBiasActMean, PreactConv1x1)


def _makes_new_tensor(gm: fx.GraphModule, node: fx.Node) -> bool:
    if isinstance(module_of(gm, node), _NEW_TENSOR_MODULES):
        return "out" not in node.kwargs  # with out= it returns a concat buffer's channel slice
    return node.op == "call_function" and node.target is max_pool2d


def _takes_in_place(m) -> bool:
    w = m.weight
    # Cout on the 16-lane grid: off it, the direct 1x1 kernel stores an aliased residual's pixels
    # lane by lane where it otherwise stores whole vectors (pointwise_pixels), unmeasured.
    return (type(m) is Conv2dBiasAct and m.channels_last and w.device.type == "cpu" and w.dtype == torch.float32
            and tuple(w.shape[2:]) == (1, 1) and m.groups == 1 and list(m.padding) == [0, 0] and w.shape[1] >= 8
            and w.shape[0] % 16 == 0)


def _dead_after(gm: fx.GraphModule, residual: fx.Node, conv: fx.Node, order: Dict[fx.Node, int]) -> bool:
    if not _makes_new_tensor(gm, residual):
        return False
    for reader in residual.users:
        if reader is conv:
            continue
        if order[reader] > order[conv] or not _makes_new_tensor(gm, reader):
            return False
    return conv.args[0] is not residual


def run(gm: fx.GraphModule, report: Report, prefix: str) -> None:
    if not config.conv_engine_available():
        return
    order = {n: i for i, n in enumerate(gm.graph.nodes)}
    sites = call_site_counts(gm)
    for node in gm.graph.nodes:
        residual = node.kwargs.get("residual") if node.op == "call_module" else None
        if not isinstance(residual, fx.Node) or "out" in node.kwargs:
            continue
        m = module_of(gm, node)
        if not _takes_in_place(m) or sites[node.target] != 1:
            continue
        if _dead_after(gm, residual, node, order):
            m.reuse_residual = True
            report.add("residual reused", prefix + node.target)
