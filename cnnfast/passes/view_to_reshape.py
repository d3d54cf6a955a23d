"""Pass: Tensor.view -> Tensor.reshape, because cnnfast's convs hand on channels_last tensors.

A user's `x.view(N, -1)` after a conv works on NCHW tensors and raises on channels_last ones.
reshape returns the same view whenever view would have worked, and copies only where view fails.
"""

import torch
import torch.fx as fx

from cnnfast.report import Report


def run(gm: fx.GraphModule, report: Report, prefix: str) -> None:
    for node in gm.graph.nodes:
        # view(dtype) reinterprets bits and has no reshape counterpart: leave it.
        if node.op == "call_method" and node.target == "view" and not any(
                isinstance(a, torch.dtype) for a in node.args[1:]):
            node.target = "reshape"
            report.notes.append(f"{prefix}{node.name}: Tensor.view -> reshape (input may be channels_last)")
