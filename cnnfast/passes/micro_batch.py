"""micro_batch: run the layers whose tensors outgrow the cache a few images at a time.

At batch 8 ResNet-50's first stage passes 26 MB maps (8 x 56 x 56 x 256 floats) from layer to
layer, nearly the whole 32 MB L3 of the machines this project runs on, with three such maps live at
once: every layer streams its input and output through memory. One image at a time the same layers
pass 3.2 MB maps that stay in cache, while their filters (under 1 MB) are read once per image
from cache. Measured on AMD EPYC Zen 5 (2 threads, L3 32 MB), torchvision ResNet-50's stages
alone, 8 images at once against the same 8 in chunks (each chunk size alternated in one process):
layer1 0.78x at chunks of 1 (0.90x at 2, 0.97x at 4), layer2 0.92x at 1 or 2 (1.02x at 4),
layer3 0.97x at 4 (1.11x at 1: its 4-7 MB of filters per block re-read per chunk), layer4 best
whole (1.28x at 1, 15 MB of filters a block). Whole model, the stem through layer2 in chunks of
one image: 0.934x.

The rule, from those figures and from the losses without each of its limits (per region,
`benchmarks/micro_batch.py`, in benchmarks/results/cpu_micro_batch_zen5.md): an op's working set
is its input maps plus its output for one image. A piece of the graph between two points where one
map is all that is live (a block's output) is split where its largest op's working set, times the
example's batch, overflows SPLIT_ABOVE of the last-level cache, into chunks of as many images as
fit a quarter of it (layer1's 6.9 MB an image: 1, layer2's 3.4 MB: 2), provided one image and the
piece's filters both fit that quarter. Neighbouring pieces form one region at their smallest
chunk, until its filters (read again by each chunk) would outgrow the quarter. A region is kept
with at least two ops that average MIN_MACS_PER_OP multiply-adds an image. The cache sizes are read
at run time (cnnfast._C._cache_bytes). Only ops known to treat each image on their own are split;
anything else (a reshape, a reduction, an unknown function) ends a region. Needs example_input:
the sizes come from running the graph on one image of it, and only regions that would split the
example's batch are made (an example of batch 1: none).

It runs after the pipeline, on the root graph only, as its own transaction: the region modules
are built aside and swapped in at the end.
"""

import operator
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata

from cnnfast.nn import (Conv1x1Depthwise, Conv1x1DepthwiseMean, Conv2dBiasAct, Conv2dBiasActMean, PreactConv1x1,
                        ShuffleChannels)
from cnnfast.nn import concat_buffer
from cnnfast.nn import max_pool2d as cnnfast_max_pool2d
from cnnfast.nn.micro_batch import MicroBatch

NAME = "micro_batch"
# A quarter of the last-level cache per chunk: the measured knee (see above); the other three
# quarters hold the filters, the tensors of the layers around it and other processes' lines.
BUDGET_SHARE_OF_L3 = 4
# Split only where the whole batch's working set overflows this share of the cache.
SPLIT_ABOVE = 0.75
# Each op a chunk runs costs a fixed ~15-20 us (a Python call, dispatch, waking the threads):
# split only blocks whose ops do enough work per image to hide it.
MIN_MACS_PER_OP = 20_000_000

# Modules and functions that compute each image on its own (the batch is only their outer loop).
# Not SqueezeExciteScale, though it is per image: its squeeze, two FC layers and scale are five
# small calls that each chunk repeats (SE-ResNet-50's layer2 in chunks of one: 1.034x, where
# ResNet-50's gains).
_PER_IMAGE_MODULES = (Conv2dBiasAct, Conv2dBiasActMean, Conv1x1Depthwise, Conv1x1DepthwiseMean, PreactConv1x1,
                      ShuffleChannels, nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.SiLU,
                      nn.Sigmoid, nn.Hardswish, nn.Hardsigmoid, nn.MaxPool2d, nn.AvgPool2d, nn.Identity)
_PER_IMAGE_FUNCTIONS = {cnnfast_max_pool2d.max_pool2d, concat_buffer.buffer_for_conv, concat_buffer.buffer_like,
                        concat_buffer.copy_into, concat_buffer.joined, operator.add, torch.add, F.relu, torch.relu,
                        F.max_pool2d, F.avg_pool2d}
_PER_IMAGE_METHODS = {"relu", "relu_", "add", "add_", "contiguous"}
# Views, allocations and tuple elements: no traffic of their own.
_VIEWS = {concat_buffer.buffer_for_conv, concat_buffer.buffer_like, concat_buffer.joined, torch.narrow,
          torch.Tensor.narrow, "narrow", operator.getitem}


@dataclass
class Segment:
    nodes: List[fx.Node]  # in graph order; the last one is the segment's (single) live output
    working_set: int  # bytes an image: the largest (inputs + output) of any of its ops
    weights: int  # bytes of the parameters and buffers its modules and constants hold
    macs_per_op: int  # multiply-adds for one image, per op that computes


@dataclass
class Region:
    nodes: List[fx.Node]
    chunk: int
    working_set: int
    weights: int


def last_level_cache() -> int:
    import cnnfast._C

    return cnnfast._C._cache_bytes()[2]


def chunk_for(segment: Segment, batch: int, l3: int) -> Optional[int]:
    """Images per chunk for this segment at this batch, or None: where the batch's working set
    fits SPLIT_ABOVE of the cache already, or one image's or the filters do not fit the chunk
    budget (VGG-16-BN's 224x224 layers, 24.5 MB an image: 1.015x in chunks of one)."""
    budget = l3 // BUDGET_SHARE_OF_L3
    if (segment.weights > budget or segment.working_set > budget
            or batch * segment.working_set <= SPLIT_ABOVE * l3):
        return None
    return budget // segment.working_set


def plan(segments: Sequence[Segment], batch: int, l3: int) -> List[Region]:
    """Runs of adjacent segments that would split, as regions at the smallest chunk among them
    (so that no map between them is ever whole), cut where the filters would outgrow the budget
    (each chunk reads them all again); kept where the chunk splits the batch, there are at least
    two ops (one map handed on in cache: a conv alone in chunks, GoogLeNet's conv3, took 1.05-1.1x)
    and the ops do MIN_MACS_PER_OP of work on average."""
    budget = l3 // BUDGET_SHARE_OF_L3
    runs: List[Tuple[Region, int, int]] = []  # (region, multiply-adds, ops that compute)
    for seg in segments:
        chunk = chunk_for(seg, batch, l3)
        if chunk is None:
            continue
        ops = sum(1 for n in seg.nodes if _computes(n))
        if runs and runs[-1][0].nodes[-1].next is seg.nodes[0] and runs[-1][0].weights + seg.weights <= budget:
            region, macs, count = runs[-1]
            region.nodes += seg.nodes
            region.chunk = min(region.chunk, chunk)
            region.working_set = max(region.working_set, seg.working_set)
            region.weights += seg.weights
            runs[-1] = (region, macs + seg.macs_per_op * ops, count + ops)
        else:
            runs.append((Region(list(seg.nodes), chunk, seg.working_set, seg.weights), seg.macs_per_op * ops, ops))
    return [r for r, macs, ops in runs if r.chunk < batch and ops >= 2 and macs >= MIN_MACS_PER_OP * ops]


def run(gm: fx.GraphModule, example: Tuple, report) -> None:
    """Put each region of gm worth splitting at the example's batch in a MicroBatch; `example`:
    the graph's inputs. A model optimized for batch 1 keeps its graph (each region costs a
    Python call on every forward)."""
    tensors = [a for a in example if isinstance(a, torch.Tensor)]
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(placeholders) != 1 or len(tensors) != 1 or tensors[0].dim() != 4 or tensors[0].shape[0] < 2:
        return  # one batched image input only: several inputs would need splitting together
    with torch.inference_mode():
        ShapeProp(gm).propagate(tensors[0].narrow(0, 0, 1))
    l3 = last_level_cache()
    regions = plan(segments(gm), tensors[0].shape[0], l3)
    if not regions:
        return
    for i, region in enumerate(regions):
        _replace(gm, region, f"{NAME}_{i}")
    gm.graph.lint()
    gm.delete_all_unused_submodules()
    gm.recompile()
    for i, r in enumerate(regions):
        first, last = _module_path(r.nodes[0]), _module_path(r.nodes[-1])
        report.notes.append(f"{NAME}_{i}: {first} .. {last} ({len(r.nodes)} ops) run {r.chunk} image(s) at a "
                            f"time: {r.working_set / 2**20:.1f} MB an image, filters {r.weights / 2**20:.1f} MB, "
                            f"last-level cache {l3 / 2**20:.0f} MB")


def segments(gm: fx.GraphModule) -> List[Segment]:
    """The graph cut where a single 4-D tensor is all that is live, keeping the pieces made only
    of per-image ops, with their sizes for one image (from ShapeProp's tensor_meta)."""
    nodes = list(gm.graph.nodes)
    order = {n: i for i, n in enumerate(nodes)}
    last_use = {n: max((order[u] for u in n.users), default=-1) for n in nodes}
    live: set = set()
    pieces: List[List[fx.Node]] = []
    current: List[fx.Node] = []
    for i, n in enumerate(nodes):
        if n.op == "output":
            break
        if n.op != "get_attr" and n.users:
            live.add(n)
        live = {v for v in live if last_use[v] > i}
        if n.op == "placeholder":
            continue
        current.append(n)
        if live == {n} and _image_map(n):
            pieces.append(current)
            current = []
    out = []
    for piece in pieces:
        if all(_per_image(gm, n) for n in piece):
            compute = [n for n in piece if _computes(n)]
            out.append(Segment(piece, max([_op_bytes(n) for n in compute], default=0), _weight_bytes(gm, piece),
                               sum(_macs(gm, n) for n in compute) // max(1, len(compute))))
    return out


def _computes(n: fx.Node) -> bool:
    """Reads and writes a map (not a view, a buffer allocation or a tuple element)."""
    return n.op == "call_module" or (n.op in ("call_function", "call_method") and n.target not in _VIEWS)


def _macs(gm: fx.GraphModule, n: fx.Node) -> int:
    """Multiply-adds for one image: each 4-D filter the module holds, once per output pixel."""
    if n.op != "call_module":
        return 0
    meta = n.meta.get("tensor_meta")
    meta = meta if isinstance(meta, TensorMetadata) or not isinstance(meta, (tuple, list)) else meta[0]
    if not isinstance(meta, TensorMetadata) or len(meta.shape) != 4:
        return 0
    m = gm.get_submodule(n.target)
    filters = sum(t.numel() for t in list(m.parameters()) + list(m.buffers()) if t.dim() == 4)
    return filters * meta.shape[2] * meta.shape[3]


def _image_map(n: fx.Node) -> bool:
    meta = n.meta.get("tensor_meta")
    return isinstance(meta, TensorMetadata) and len(meta.shape) == 4 and meta.shape[0] == 1


def _bytes(meta) -> int:
    if isinstance(meta, TensorMetadata):
        return meta.shape.numel() * meta.dtype.itemsize
    if isinstance(meta, (tuple, list)):
        return sum(_bytes(m) for m in meta)
    return 0


def _op_bytes(n: fx.Node) -> int:
    """Its output and the maps it reads; a conv's `out` (a concat buffer's slice) is the output."""
    inputs = {a for a in n.all_input_nodes if a.op != "get_attr"} - {n.kwargs.get("out")}
    return _bytes(n.meta.get("tensor_meta")) + sum(_bytes(a.meta.get("tensor_meta")) for a in inputs)


def _weight_bytes(gm: fx.GraphModule, nodes: List[fx.Node]) -> int:
    seen, total = set(), 0
    for n in nodes:
        if n.op == "call_module":
            m = gm.get_submodule(n.target)
            tensors = list(m.parameters()) + list(m.buffers())
        elif n.op == "get_attr":
            t = _attr(gm, n.target)
            tensors = [t] if isinstance(t, torch.Tensor) else []
        else:
            continue
        for t in tensors:
            if id(t) not in seen:
                seen.add(id(t))
                total += t.numel() * t.element_size()
    return total


def _attr(gm: fx.GraphModule, target: str):
    owner, _, name = target.rpartition(".")  # (owner "" is gm itself)
    return getattr(gm.get_submodule(owner), name, None)


def _leading_ones(meta) -> bool:
    """Every tensor in meta has a batch of one (the graph ran on one image)."""
    if isinstance(meta, TensorMetadata):
        return len(meta.shape) > 0 and meta.shape[0] == 1
    if isinstance(meta, (tuple, list)):
        return all(_leading_ones(m) for m in meta)
    return False


def _per_image(gm: fx.GraphModule, n: fx.Node) -> bool:
    if n.op == "get_attr":
        return True
    if n.users and not _leading_ones(n.meta.get("tensor_meta")):
        return False  # a result that is not one image's (a constant with a batch of its own, a scalar)
    if n.op == "call_module":
        m = gm.get_submodule(n.target)
        return isinstance(m, _PER_IMAGE_MODULES) and not (isinstance(m, nn.BatchNorm2d) and m.training)
    if n.op == "call_function":
        if n.target in (torch.narrow, torch.Tensor.narrow):
            return _dim_arg(n) not in (0, -4)
        if n.target is torch.cat:
            return _dim_arg(n, default=0) not in (0, -4)
        if n.target is operator.getitem:  # an element of a module's tuple result (y, mean)
            source = n.args[0].meta.get("tensor_meta") if isinstance(n.args[0], fx.Node) else None
            # (TensorMetadata is itself a NamedTuple: a tensor's getitem indexes the batch)
            return isinstance(source, (tuple, list)) and not isinstance(source, TensorMetadata)
        return n.target in _PER_IMAGE_FUNCTIONS
    if n.op == "call_method":
        if n.target == "narrow":
            return _dim_arg(n) not in (0, -4)
        return n.target in _PER_IMAGE_METHODS
    return False


def _dim_arg(n: fx.Node, default: int = 0):
    """The `dim` of narrow(x, dim, ...) / cat(parts, dim): args[1] or kwargs["dim"]."""
    return n.kwargs.get("dim", n.args[1] if len(n.args) > 1 else default)


def _image(n: fx.Node) -> Tuple[List[int], bool]:
    """(C, H, W) of one image of n's map, and whether it is channels_last (from ShapeProp)."""
    meta = n.meta["tensor_meta"]
    return list(meta.shape[1:]), meta.memory_format == torch.channels_last


def _module_path(n: fx.Node) -> str:
    return n.target if n.op == "call_module" else n.name


def _replace(gm: fx.GraphModule, region: Region, name: str) -> None:
    """Move the region's nodes into a GraphModule (x, out=None) -> y, called through a MicroBatch."""
    inside = set(region.nodes)
    inputs = {a for n in region.nodes for a in n.all_input_nodes if a not in inside and a.op != "get_attr"}
    assert len(inputs) == 1, f"a micro-batch region reads {len(inputs)} outside values"
    source = inputs.pop()
    g = fx.Graph()
    env: Dict[fx.Node, fx.Node] = {source: g.placeholder("x", type_expr=torch.Tensor)}
    # (typed, so that TorchScript compiles the call without `out` too)
    out = g.placeholder("out", type_expr=Optional[torch.Tensor], default_value=None)
    for n in region.nodes:
        env[n] = g.node_copy(n, lambda a: env[a])
    last = region.nodes[-1]
    writes_out = (last.op == "call_module" and isinstance(gm.get_submodule(last.target), Conv2dBiasAct)
                  and last.kwargs.get("out") is None)
    if writes_out:
        env[last].kwargs = {**env[last].kwargs, "out": out}
    g.output(env[last])
    sub = fx.GraphModule(gm, g, "MicroBatchRegion")
    gm.add_submodule(name, MicroBatch(sub, region.chunk, writes_out, (*_image(source), *_image(last))))
    with gm.graph.inserting_after(last):
        call = gm.graph.call_module(name, (source,))
    call.meta = dict(last.meta)  # the next region's input: its shapes are the region's output's
    last.replace_all_uses_with(call)
    for n in reversed(region.nodes):
        gm.graph.erase_node(n)
