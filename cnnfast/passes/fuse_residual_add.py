"""Pass: act(conv(x) + r) becomes one Conv2dBiasAct call with residual=r (ResNet's skip add)."""

import torch.fx as fx

from cnnfast.nn import Conv2dBiasAct
from cnnfast.passes._graph import activation_of, is_add, is_inplace_add, module_of
from cnnfast.report import Report


def _fusable_conv(gm, node, add):
    m = module_of(gm, node)
    users = [u for u in node.users if not _reads_rank(u)]  # rank reads move to the conv's input below
    return (isinstance(m, Conv2dBiasAct) and m.act == "none" and len(users) == 1
            and users[0] is add and len(node.args) == 1 and not node.kwargs)


def _reads_rank(node: fx.Node) -> bool:
    """x.ndim / x.dim(): timm's norm layers assert it. The conv's input has the same rank and
    exists before the fused call, which sits where the add was."""
    return (node.op == "call_function" and node.target is getattr and node.args[1] == "ndim") or (
        node.op == "call_method" and node.target == "dim" and len(node.args) == 1)


def run(gm: fx.GraphModule, report: Report, prefix: str) -> None:
    for add in list(gm.graph.nodes):
        if not is_add(add):
            continue
        a, b = add.args
        if not isinstance(a, fx.Node) or not isinstance(b, fx.Node) or a is b:
            continue
        # An in-place add mutates its first operand: only the conv's own output may be the one
        # mutated, or a tensor still read elsewhere would no longer change.
        if _fusable_conv(gm, a, add):
            conv, residual = a, b
        elif not is_inplace_add(add) and _fusable_conv(gm, b, add):
            conv, residual = b, a
        else:
            continue
        module = gm.get_submodule(conv.target)
        last, act = add, None
        if len(add.users) == 1:
            user = next(iter(add.users))
            act = activation_of(gm, user, add)
            if act is not None:
                last = user
        # Insert where the add was: both the conv's input and the residual exist by then.
        with gm.graph.inserting_before(last):
            fused = gm.graph.call_module(conv.target, (conv.args[0],), {"residual": residual})
        last.replace_all_uses_with(fused)
        for reader in [u for u in conv.users if _reads_rank(u)]:
            reader.replace_input_with(conv, conv.args[0])
        if last is not add:
            gm.graph.erase_node(last)
        gm.graph.erase_node(add)
        gm.graph.erase_node(conv)
        module.act = act or "none"
        report.add("conv+add" + ("+" + act if act else ""), prefix + conv.target)
