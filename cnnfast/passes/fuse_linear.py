"""Pass: an nn.Linear (and the activation applied only to its output) becomes one LinearBiasAct.

Runs after fuse_squeeze_excite, which takes the Linear layers inside SE blocks as its own."""

import torch.fx as fx
import torch.nn as nn

from cnnfast.nn import LinearBiasAct
from cnnfast.passes._graph import activation_of, call_site_counts, has_hooks, module_of
from cnnfast.report import Report


def run(gm: fx.GraphModule, report: Report, prefix: str) -> None:
    calls = call_site_counts(gm)
    for node in list(gm.graph.nodes):
        linear = module_of(gm, node)
        if type(linear) is not nn.Linear or len(node.args) != 1 or node.kwargs:
            continue
        where = prefix + node.target
        if calls[node.target] > 1:
            report.skip(where, f"Linear module is called at {calls[node.target]} sites; fusing one would change the others")
            continue
        if has_hooks(linear) or not linear.weight.is_floating_point():
            continue
        act = None
        if len(node.users) == 1:
            user = next(iter(node.users))
            act = activation_of(gm, user, node)
            if act is not None:
                user.replace_all_uses_with(node)
                gm.graph.erase_node(user)
        gm.add_submodule(node.target, LinearBiasAct.from_linear(linear, act or "none"))
        report.add("linear" + (f"+{act}" if act else ""), where)
