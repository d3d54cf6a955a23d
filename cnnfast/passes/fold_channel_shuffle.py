"""Pass: ShuffleNet's channel shuffles become data placement and weight order, not copies.

A ShuffleNet V2 block ends with ``torch.cat`` (a copy), a channel shuffle (view -> transpose ->
contiguous -> view: a second copy, which also turns channels_last maps back into NCHW) and, in
the next block, ``chunk(2)``. All three are permutations. Here each (cat, shuffle[, chunk]) site
becomes one ShuffleChannels call that writes every channel once, from the tensor it lies in,
into the dense tensor that will read it (one per chunk piece); nothing is copied to reorder.

Inside each output the pass picks the channel order that makes the copy a few long runs per pixel
(channels grouped by source, in the source's order), and records it: a tensor then carries
`order` (physical channel k holds logical channel order[k]) to its readers, which absorb it --
a dense conv by permuting its weight's input columns, a depthwise conv by permuting its filters and
bias (its output then carries the same order on), the next shuffle site by reading through it.
Any other reader gets the logical order back from one more ShuffleChannels copy, so the pass is
correct whatever reads a shuffled tensor.

Matched: ``torch.cat(parts, 1)`` whose only reader is a channel shuffle written as
``view/reshape(n, g, c // g, h, w) -> transpose(1, 2) / permute(0, 2, 1, 3, 4) [-> contiguous]
-> view/reshape(n, c, h, w) / flatten(1, 2)`` (torchvision's ``channel_shuffle``), optionally
followed by ``chunk(2, dim=1)``. The parts' channel counts must follow from the graph.
"""

import itertools
import operator
from typing import Dict, List, Optional, Tuple

import torch
import torch.fx as fx

from cnnfast.nn import Conv2dBiasAct, ShuffleChannels
from cnnfast.nn._frozen import register_frozen
from cnnfast.passes._graph import (call_site_counts, cat_parts, channel_count, eliminate_dead_code, example_shape,
                                  module_of, size_read)
from cnnfast.report import Report

Value = Tuple[fx.Node, List[int]]  # (node holding the data, order: physical channel -> logical)


def _is_size(node, src: fx.Node, d: int) -> bool:
    """node is src's size along d: read from src, or a number the capture fixed to it."""
    read = size_read(node, src)
    if isinstance(read, int) and read == d:
        return True
    shape = example_shape(src)
    return isinstance(node, int) and shape is not None and d < len(shape) and shape[d] == node


def _view_shape(node: fx.Node, src: fx.Node):
    """The target shape when node is src.view(...) / src.reshape(...) / torch.reshape(src, ...)."""
    if node.kwargs or not node.args or node.args[0] is not src:
        return None
    if (node.op == "call_method" and node.target in ("view", "reshape")) or (
            node.op == "call_function" and node.target is torch.reshape):
        shape = node.args[1:]
        if len(shape) == 1 and isinstance(shape[0], (list, tuple)):
            shape = shape[0]
        return list(shape)
    return None


def _only_user(node: fx.Node) -> Optional[fx.Node]:
    return next(iter(node.users)) if len(node.users) == 1 else None


def _is_transpose12(node: fx.Node, src: fx.Node) -> bool:
    if node.kwargs or not node.args or node.args[0] is not src:
        return False
    if (node.op == "call_function" and node.target is torch.transpose) or (
            node.op == "call_method" and node.target == "transpose"):
        return sorted(node.args[1:]) == [1, 2]
    if node.op == "call_method" and node.target == "permute":
        dims = node.args[1:]
        if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
            dims = dims[0]
        return list(dims) == [0, 2, 1, 3, 4]
    return False


def _match_shuffle(cat: fx.Node, channels: int):
    """(groups, last node of the shuffle) when cat's one reader is a channel shuffle, else None."""
    readers = [u for u in cat.users if not (u.op == "call_method" and u.target == "size")]
    if len(readers) != 1:
        return None
    view = readers[0]
    shape = _view_shape(view, cat)
    if shape is None or len(shape) != 5 or not isinstance(shape[1], int) or shape[1] < 1:
        return None
    groups = shape[1]
    if channels % groups or not all(_is_size(shape[i], cat, d) for i, d in ((0, 0), (3, 2), (4, 3))):
        return None
    transpose = _only_user(view)
    if transpose is None or not _is_transpose12(transpose, view):
        return None
    last = _only_user(transpose)
    if last is not None and last.op == "call_method" and last.target == "contiguous" and len(last.args) == 1:
        prev, last = last, _only_user(last)
    else:
        prev = transpose
    if last is None:
        return None
    if last.op == "call_function" and last.target is torch.flatten or (
            last.op == "call_method" and last.target == "flatten"):
        ok = last.args[0] is prev and tuple(last.args[1:]) == (1, 2) and not last.kwargs
    else:
        shape = _view_shape(last, prev)
        # Sizes read from the cat: the flattened channel entry is then forced to be c.
        ok = shape is not None and len(shape) == 4 and all(_is_size(shape[i], cat, d) for i, d in ((0, 0), (2, 2), (3, 3)))
    return (groups, last) if ok else None


def _channel_slice(node: fx.Node, src: fx.Node, channels: int):
    """(lo, hi) when node is src[:, lo:hi] (constant bounds, step 1), else None."""
    if node.op != "call_function" or node.target is not operator.getitem or node.args[0] is not src:
        return None
    index = node.args[1]
    if not isinstance(index, tuple) or len(index) != 2 or index[0] != slice(None) or not isinstance(index[1], slice):
        return None
    s = index[1]
    if s.step not in (None, 1) or not all(b is None or isinstance(b, int) for b in (s.start, s.stop)):
        return None
    return range(channels)[s].start, range(channels)[s].stop


def _halves(node: fx.Node, channels: int):
    """{0: node, 1: node} for ``a, b = node.chunk(2, dim=1)`` (the getitem nodes present) or for
    ``node[:, :c // 2]`` and ``node[:, c // 2:]``, else None."""
    if channels % 2 == 0 and len(node.users) == 2:
        bounds = {u: _channel_slice(u, node, channels) for u in node.users}
        by_bounds = {b: u for u, b in bounds.items()}
        if set(by_bounds) == {(0, channels // 2), (channels // 2, channels)}:
            return {0: by_bounds[(0, channels // 2)], 1: by_bounds[(channels // 2, channels)]}
    chunk = _only_user(node)
    if chunk is None or channels % 2:
        return None
    args = list(chunk.args) + [chunk.kwargs.get("chunks"), chunk.kwargs.get("dim")]
    is_chunk = (chunk.op == "call_method" and chunk.target == "chunk") or (
        chunk.op == "call_function" and chunk.target is torch.chunk)
    if not is_chunk or args[0] is not node:
        return None
    rest = [a for a in args[1:] if a is not None]
    if rest != [2, 1]:
        return None
    halves = {}
    for u in chunk.users:
        if u.op != "call_function" or u.target is not operator.getitem or u.args[1] not in (0, 1) or u.args[1] in halves:
            return None
        halves[u.args[1]] = u
    return halves


class _Folder:
    def __init__(self, gm: fx.GraphModule, report: Report, prefix: str, site_cats):
        self.gm, self.report, self.prefix = gm, report, prefix
        self.site_cats = site_cats  # cats a later site rewrites: they read through self.values
        self.calls = call_site_counts(gm)
        self.values: Dict[fx.Node, Value] = {}
        self.restored: Dict[fx.Node, fx.Node] = {}

    def value(self, node: fx.Node, channels: int) -> Value:
        return self.values.get(node, (node, list(range(channels))))

    def rewrite_site(self, cat: fx.Node, parts: List[fx.Node], counts: List[int], groups: int,
                     pieces: List[Tuple[fx.Node, int, int]]) -> None:
        """One ShuffleChannels call for the site; `pieces` are (logical node, lo, hi) ranges of the
        shuffled tensor that something reads."""
        sources, starts, positions, start = [], [], [], 0
        for p, c in zip(parts, counts):
            phys, order = self.value(p, c)
            pos = [0] * c
            for k, q in enumerate(order):
                pos[q] = k
            sources.append(phys)
            starts.append(start)
            positions.append(pos)
            start += c
        part_of = [i for i, c in enumerate(counts) for _ in range(c)]
        first = [sum(counts[:i]) for i in range(len(counts))]
        per_group = sum(counts) // groups
        index, split, orders = [], [], []
        for _, lo, hi in pieces:
            entries = []
            for c in range(lo, hi):
                g = (c % groups) * per_group + c // groups  # the shuffle: out[k * g + j] = cat[j * C / g + k]
                i = part_of[g]
                entries.append((i, positions[i][g - first[i]], c - lo))
            entries.sort()  # grouped by source, in the source's order: long runs to copy
            index += [starts[i] + k for i, k, _ in entries]
            orders.append([logical for _, _, logical in entries])
            split.append(hi - lo)
        name = self._add_module(f"{cat.name}_shuffle", ShuffleChannels(index, split))
        with self.gm.graph.inserting_before(cat):
            call = self.gm.graph.call_module(name, (sources,))
            outs = [self.gm.graph.call_function(operator.getitem, (call, k)) for k in range(len(pieces))]
        self.report.add("channel shuffle folded (cat + shuffle + chunk in one pass)", self.prefix + cat.name)
        for (logical, _, _), out, order in zip(pieces, outs, orders):
            self.values[logical] = (out, order)
            self.hand_on(logical, out, order)

    def hand_on(self, logical: fx.Node, phys: fx.Node, order: List[int]) -> None:
        """Every reader of `logical` now gets `phys` (its channels in `order`) or the logical tensor."""
        identity = order == list(range(len(order)))
        for user in list(logical.users):
            if user is phys:
                continue
            if user in self.site_cats:
                continue
            if identity:
                user.replace_input_with(logical, phys)
            elif not self.fold_into_conv(user, logical, phys, order):
                user.replace_input_with(logical, self.restore(logical, phys, order, user))

    def fold_into_conv(self, user: fx.Node, logical: fx.Node, phys: fx.Node, order: List[int]) -> bool:
        conv = module_of(self.gm, user)
        if (not isinstance(conv, Conv2dBiasAct) or self.calls[user.target] != 1 or user.args != (logical,)
                or user.kwargs):
            return False
        w, b = conv.weight.detach(), conv.bias
        depthwise = conv.groups == w.shape[0] == len(order) and w.shape[1] == 1
        if conv.groups == 1 and w.shape[1] == len(order):
            register_frozen(conv, "weight", w[:, order])  # phys k holds logical order[k]
        elif depthwise:
            register_frozen(conv, "weight", w[order])
            register_frozen(conv, "bias", b.detach()[order] if b is not None else None)
        else:
            return False
        conv._place_weight()
        user.replace_input_with(logical, phys)
        self.report.add("shuffle order folded into conv weights", self.prefix + user.target)
        if depthwise:  # its output channels come out in the same order: pass that on
            self.values[user] = (user, order)
            self.hand_on(user, user, order)
        return True

    def restore(self, logical: fx.Node, phys: fx.Node, order: List[int], before: fx.Node) -> fx.Node:
        """The logical tensor, copied back into logical order (for a reader that cannot absorb it)."""
        if logical not in self.restored:
            pos = [0] * len(order)
            for k, q in enumerate(order):
                pos[q] = k
            name = self._add_module(f"{logical.name}_unshuffle", ShuffleChannels(pos, [len(order)]))
            with self.gm.graph.inserting_before(before):
                call = self.gm.graph.call_module(name, ([phys],))
                self.restored[logical] = self.gm.graph.call_function(operator.getitem, (call, 0))
            self.report.add("shuffled tensor restored for a reader", self.prefix + logical.name)
        return self.restored[logical]

    def _add_module(self, name: str, module) -> str:
        while hasattr(self.gm, name):
            name += "_"
        # The index buffer is made on the CPU; the kernels read it beside the tensors they
        # reorder, so it joins the model's device (a CUDA ShuffleNet failed on the H200).
        held = next(itertools.chain(self.gm.parameters(), self.gm.buffers()), None)
        self.gm.add_submodule(name, module if held is None else module.to(held.device))
        return name


def run(gm: fx.GraphModule, report: Report, prefix: str) -> None:
    memo: Dict[fx.Node, Optional[int]] = {}
    sites = []
    for node in list(gm.graph.nodes):
        parts = cat_parts(node)
        if parts is None:
            continue
        counts = [channel_count(gm, p, memo) for p in parts]
        if None in counts:
            continue
        total = sum(counts)
        shuffle = _match_shuffle(node, total)
        if shuffle is None:
            continue
        groups, last = shuffle
        halves = _halves(last, total)
        if halves is not None:
            pieces = [(halves[k], k * total // 2, (k + 1) * total // 2) for k in sorted(halves)]
            for logical, lo, hi in pieces:
                memo[logical] = hi - lo  # later sites size their parts from these
        else:
            pieces = [(last, 0, total)]
            memo[last] = total
        sites.append((node, parts, counts, groups, pieces))
    if not sites:
        return
    folder = _Folder(gm, report, prefix, {s[0] for s in sites})
    for cat, parts, counts, groups, pieces in sites:
        folder.rewrite_site(cat, parts, counts, groups, pieces)
    eliminate_dead_code(gm)  # the cats, shuffles and chunks, now unread: later passes must not see them
