"""Pass: sibling convs (Conv2dBiasAct modules that read the same tensor with the same geometry and
activation) become one conv with their filters concatenated; each original output is a channel
slice (a view) of the merged one.

Merged: sibling convs whose outputs are read by no conv (heads going straight into a cat or an
elementwise op): one wider GEMM reads the shared input once instead of once per head.
Left apart (reported): a conv whose output another conv reads. That conv would read a channel slice
of the merged output, and every CPU kernel copies a slice into a dense tensor first; a merged
head also loses its direct write into a concat buffer. An Inception block's reduce convs are such
convs: merging them with the 1x1 branch (which once cut GoogLeNet inception 3a's 1x1 convs from
247 to 174 us through oneDNN) now costs time, with cnnfast's own 1x1 kernels: this rule against
merging every sibling group (AMD EPYC Zen 5, 2 threads, 2026-12-04, TorchScript, paired per
inference): Inception-v3 0.978x at batch 1 (150 pairs), 0.998x at batch 8 (60); GoogLeNet
0.991x and 0.988x.
"""

import torch
import torch.fx as fx

from cnnfast.nn import Conv2dBiasAct
from cnnfast.passes._graph import call_site_counts, module_of
from cnnfast.report import Report


def _key(conv: Conv2dBiasAct):
    w = conv.weight
    return (tuple(w.shape[1:]), tuple(conv.stride), tuple(conv.padding), tuple(conv.dilation), conv.act,
            conv.channels_last, w.dtype, w.device)


def _merge(convs):
    weight = torch.cat([c.weight for c in convs])
    if all(c.bias is None for c in convs):
        bias = None
    else:
        bias = torch.cat([c.bias if c.bias is not None else torch.zeros_like(c.weight[:, 0, 0, 0]) for c in convs])
    first = convs[0]
    return Conv2dBiasAct(weight, bias, first.stride, first.padding, first.dilation, 1, first.act, first.channels_last)


def run(gm: fx.GraphModule, report: Report, prefix: str) -> None:
    calls = call_site_counts(gm)
    for source in list(gm.graph.nodes):
        groups = {}
        for user in source.users:  # insertion order = graph order of the first use
            conv = module_of(gm, user)
            if (isinstance(conv, Conv2dBiasAct) and conv.groups == 1 and user.args == (source,)
                    and not user.kwargs and calls[user.target] == 1):
                if any(isinstance(module_of(gm, u), Conv2dBiasAct) for u in user.users):
                    report.skip(prefix + user.target, "sibling conv left apart: a conv reads its output, "
                                "which would be a channel slice copied before that conv")
                    continue
                groups.setdefault(_key(conv), []).append(user)
        for nodes in groups.values():
            if len(nodes) < 2:
                continue
            order = {n: i for i, n in enumerate(gm.graph.nodes)}
            nodes.sort(key=order.__getitem__)
            convs = [module_of(gm, n) for n in nodes]
            target = nodes[0].target + "_siblings"
            gm.add_submodule(target, _merge(convs))
            with gm.graph.inserting_before(nodes[0]):
                merged = gm.graph.call_module(target, (source,))
            offset, last = 0, merged
            for node, conv in zip(nodes, convs):
                channels = conv.weight.shape[0]
                with gm.graph.inserting_after(last):
                    part = gm.graph.call_function(torch.narrow, (merged, 1, offset, channels))
                node.replace_all_uses_with(part)
                gm.graph.erase_node(node)
                offset += channels
                last = part
            report.add(f"{len(nodes)} sibling convs -> 1", prefix + target)
