"""cnnfast.ops.linear_bias_act: a Linear layer and its activation in one op (classifier heads).

Schema and kernels: csrc/ops/linear_bias_act.
"""

from typing import Optional

import torch

from cnnfast.contracts.activations import check_activation
from cnnfast.ops._backend import check_backend, use_triton


def linear_bias_act(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                    act: str = "none", *, backend: str = "auto") -> torch.Tensor:
    """``act(x @ weight.T + bias)``: x (N, K), weight (M, K), bias (M,) or None -> (N, M).
    backend: "auto" (the C++/CUDA kernels) or "triton" (a Triton matmul with the epilogue fused)."""
    check_activation(act)
    check_backend(backend)
    if use_triton(backend):
        from cnnfast.triton.linear_bias_act import linear_bias_act as triton_linear_bias_act

        return triton_linear_bias_act(x, weight, bias, act)
    return torch.ops.cnnfast.linear_bias_act(x, weight, bias, act)


@torch.library.register_fake("cnnfast::linear_bias_act")
def _linear_bias_act_fake(x, weight, bias, act):
    torch._check(x.dim() == 2, lambda: f"cnnfast.linear_bias_act: x must be 2-D (N, K), got {x.dim()}-D")
    torch._check(weight.dim() == 2 and weight.shape[1] == x.shape[1],
                 lambda: f"cnnfast.linear_bias_act: weight must have shape (M, {x.shape[1]})")
    return x.new_empty((x.shape[0], weight.shape[0]))
