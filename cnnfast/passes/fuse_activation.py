"""Pass: an activation applied only to a Conv2dBiasAct's output moves into the conv's epilogue."""

import torch.fx as fx

from cnnfast.nn import Conv2dBiasAct
from cnnfast.passes._graph import activation_of, data_users, module_of
from cnnfast.report import Report


def run(gm: fx.GraphModule, report: Report, prefix: str) -> None:
    for node in list(gm.graph.nodes):
        m = module_of(gm, node)
        users = data_users(node)  # shape reads stay valid: the activation keeps the shape
        if not isinstance(m, Conv2dBiasAct) or m.act != "none" or len(users) != 1:
            continue
        user = users[0]
        act = activation_of(gm, user, node)
        if act is None:
            continue
        m.act = act
        user.replace_all_uses_with(node)
        gm.graph.erase_node(user)
        report.add("+" + act, prefix + node.target)
