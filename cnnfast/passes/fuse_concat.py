"""Pass: torch.cat along channels without the copy. Each concatenation gets one buffer, allocated
before its first part is computed; every part produced by a Conv2dBiasAct is written by that conv
straight into its channel slice (conv2d_bias_act_out), as is every part produced by a
PreactConv1x1 (preact_conv1x1_out: a DenseNet transition's output, the next block's first part)
and by a max pool use_max_pool2d takes (max_pool2d_out: Inception-v3's grid reductions, DenseNet's
stem pool); other parts are copied in, and the cat becomes a view of the buffer.

Cats whose part lists are prefixes of one another share the buffer: a DenseNet block concatenates
[x0], [x0, x1], [x0, x1, x2], ... before its layers, which eager PyTorch copies O(L^2) times; here
each layer's new channels are written once into the block buffer and every cat is a view of its
leading channels. A cat nested directly in another (Inception-v3's E blocks) joins the outer one.

Safe only where nothing writes into a cat's result or a part afterwards (they now share memory),
so every reader must be on a list of non-mutating ops; otherwise the cat is left as it is.
"""

import operator

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from cnnfast.nn import Conv2dBiasAct, LinearBiasAct, PreactConv1x1
from cnnfast.nn.concat_buffer import buffer_for_conv, buffer_for_preact, buffer_like, copy_into, joined
from cnnfast.nn.max_pool2d import max_pool2d
from cnnfast.passes._graph import call_site_counts, cat_parts, channel_count, module_of
from cnnfast.passes.use_max_pool2d import max_pool_args
from cnnfast.report import Report

# Readers that never write into their input.
_READ_ONLY_MODULES = (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
                      nn.Flatten, nn.Linear, Conv2dBiasAct, LinearBiasAct, PreactConv1x1)
_READ_ONLY_FUNCTIONS = {torch.cat, torch.narrow, torch.flatten, F.max_pool2d, F.avg_pool2d,
                        F.adaptive_avg_pool2d, joined, copy_into, operator.getitem,
                        buffer_for_conv, buffer_for_preact, buffer_like}  # these three read only the shape
def _read_only(gm: fx.GraphModule, user: fx.Node) -> bool:
    if user.op == "output":
        return True
    if user.op == "call_module":
        m = module_of(gm, user)
        return isinstance(m, _READ_ONLY_MODULES) or (isinstance(m, nn.ReLU) and not m.inplace)
    if user.op == "call_function":
        if user.target in (F.relu, F.max_pool2d, F.avg_pool2d):
            return not user.kwargs.get("inplace", False)
        return user.target in _READ_ONLY_FUNCTIONS
    return user.op == "call_method" and user.target == "size"


def _leaves(node: fx.Node, memo):
    """The parts of a channel cat with every part that is itself a channel cat expanded into its
    own parts (recursively), in channel order."""
    if node not in memo:
        memo[node] = None  # guards cycles through malformed graphs
        leaves = []
        for p in cat_parts(node):
            inner = _leaves(p, memo) if cat_parts(p) is not None else None
            leaves.extend(inner or [p])
        memo[node] = leaves
    return memo[node]


def _find(seq, sub):
    """Start of `sub` as a contiguous run in `seq`, else -1."""
    for i in range(len(seq) - len(sub) + 1):
        if seq[i:i + len(sub)] == sub:
            return i
    return -1


def _groups(gm: fx.GraphModule):
    """Cats built in one buffer: each group's cats are contiguous runs of the leaf parts of the
    group's longest cat. That covers torchvision's DenseNet (the layer inputs [x0], [x0, x1], ...
    are prefixes of the block output), a user's DenseNet written `cat([new, x], 1)` with x the
    previous cat (each cat is the tail of the next), and Inception-v3's E blocks (a cat nested in
    another is a run in the middle)."""
    memo = {}
    cats = [(n, _leaves(n, memo)) for n in gm.graph.nodes if cat_parts(n) is not None]
    groups = []  # [leaves of the longest, [(cat node, first leaf, number of leaves)]]
    for node, leaves in sorted(cats, key=lambda c: -len(c[1])):
        for group in groups:
            at = _find(group[0], leaves)
            if at >= 0:
                group[1].append((node, at, len(leaves)))
                break
        else:
            groups.append([leaves, [(node, 0, len(leaves))]])
    return groups


def run(gm: fx.GraphModule, report: Report, prefix: str) -> None:
    calls = call_site_counts(gm)
    memo = {}
    for node in gm.graph.nodes:  # before any cat is rewritten
        channel_count(gm, node, memo)
    for parts, cats in _groups(gm):
        where = prefix + (cats[0][0].name)
        counts = [channel_count(gm, p, memo) for p in parts]
        if None in counts or len(set(parts)) != len(parts):
            report.skip(where, "torch.cat: part channel counts unknown before running, or a part repeated; "
                        "left as a copy")
            continue
        cat_nodes = {c for c, _, _ in cats}
        readers = [u for c in cat_nodes for u in c.users] + [u for p in parts for u in p.users if u not in cat_nodes]
        if not all(_read_only(gm, u) for u in readers):
            report.skip(where, "torch.cat: its result or a part is used by an op that may write into it; "
                        "left as a copy")
            continue
        order = {n: i for i, n in enumerate(gm.graph.nodes)}
        first = min(parts, key=order.__getitem__)
        writers, pools = set(), {}
        for p in parts:
            m = module_of(gm, p)
            # No kwargs: not already writing into another cat's buffer.
            if (isinstance(m, (Conv2dBiasAct, PreactConv1x1)) and len(p.args) == 1 and not p.kwargs
                    and calls[p.target] == 1):
                writers.add(p)
                continue
            pool = max_pool_args(gm, p)
            # A ceil-mode pool as the first part would need its own buffer shape rule: copied instead.
            if pool is not None and not (p is first and pool[4]):
                writers.add(p)
                pools[p] = pool
        if not writers:
            continue  # nothing would be written in place: the cat's one copy is as good
        total = sum(counts)
        if first in pools:
            x, kernel, stride, padding, _ = pools[first]
            with gm.graph.inserting_before(first):
                buf = gm.graph.call_function(buffer_for_conv, (x, list(kernel), list(stride), list(padding), [1, 1],
                                                               total, False))
        elif first in writers and isinstance(module_of(gm, first), PreactConv1x1):
            with gm.graph.inserting_before(first):
                buf = gm.graph.call_function(buffer_for_preact, (first.args[0], module_of(gm, first).pool, total))
        elif first in writers:
            conv = module_of(gm, first)
            with gm.graph.inserting_before(first):
                buf = gm.graph.call_function(buffer_for_conv, (
                    first.args[0], list(conv.weight.shape[2:]), conv.stride, conv.padding, conv.dilation, total,
                    conv.channels_last))
        else:
            with gm.graph.inserting_after(first):
                buf = gm.graph.call_function(buffer_like, (first, total))
        written_parts, offset = [], 0
        for p, c in zip(parts, counts):
            if p in pools:
                x, kernel, stride, padding, ceil_mode = pools[p]
                with gm.graph.inserting_before(p):
                    out = gm.graph.call_function(torch.narrow, (buf, 1, offset, c))
                    pooled = gm.graph.call_function(max_pool2d, (x, list(kernel), list(stride), list(padding),
                                                                 ceil_mode), {"out": out})
                p.replace_all_uses_with(pooled)
                gm.graph.erase_node(p)
                written_parts.append(pooled)
                report.add("max pool writes into concat", prefix + (p.target if isinstance(p.target, str) else p.name))
            elif p in writers:
                with gm.graph.inserting_before(p):
                    p.kwargs = {"out": gm.graph.call_function(torch.narrow, (buf, 1, offset, c))}
                written_parts.append(p)
                preact = isinstance(module_of(gm, p), PreactConv1x1)
                report.add(("bn+relu+conv1x1" if preact else "conv") + " writes into concat", prefix + p.target)
            else:
                # After both the part and the buffer: the buffer sits at the earliest part.
                after = buf if p is first else p
                with gm.graph.inserting_after(after):
                    written_parts.append(gm.graph.call_function(copy_into, (buf, offset, p)))
            offset += c
        for cat, at, n in sorted(cats, key=lambda c: order[c[0]]):  # inner cats first: outer ones read them
            with gm.graph.inserting_before(cat):
                view = gm.graph.call_function(joined, (buf, sum(counts[:at]), sum(counts[at:at + n]),
                                                       written_parts[at:at + n]))
            cat.replace_all_uses_with(view)
            gm.graph.erase_node(cat)
        report.add(f"concat in place ({len(cats)} cat{'s' if len(cats) > 1 else ''})", where)
