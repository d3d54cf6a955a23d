"""LinearBiasAct: the module form of cnnfast.ops.linear_bias_act, built from an nn.Linear."""

from typing import Optional

import torch
import torch.nn as nn

from cnnfast.config import DEFAULT_GPU_BACKEND
from cnnfast.nn._gpu_backend import cuda_backend
from cnnfast.nn._frozen import register_frozen
from cnnfast.contracts.activations import check_activation


class LinearBiasAct(nn.Module):
    """``act(linear(x))`` for x (..., K): leading dimensions are flattened into rows and restored.
    Parameters are frozen: this is an inference module."""

    __constants__ = ["act"]

    def __init__(self, weight: torch.Tensor, bias: Optional[torch.Tensor], act: str = "none"):
        super().__init__()
        self.gpu_backend = DEFAULT_GPU_BACKEND  # the CUDA kernels to run (cnnfast/nn/_gpu_backend.py)
        check_activation(act)
        register_frozen(self, "weight", weight)
        register_frozen(self, "bias", bias)
        self.act = act

    @classmethod
    def from_linear(cls, linear: nn.Linear, act: str = "none") -> "LinearBiasAct":
        return cls(linear.weight, linear.bias, act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x if x.dim() == 2 else x.reshape(-1, x.shape[-1])
        if not torch.jit.is_scripting() and cuda_backend(self.gpu_backend, x) == "triton":
            y = self.forward_triton(rows)
        else:
            y = torch.ops.cnnfast.linear_bias_act(rows, self.weight, self.bias, self.act)
        return y if x.dim() == 2 else y.reshape(list(x.shape[:-1]) + [self.weight.shape[0]])

    @torch.jit.unused
    def forward_triton(self, rows: torch.Tensor) -> torch.Tensor:
        """The same computation through cnnfast/triton (gpu_backend "triton")."""
        from cnnfast.triton.linear_bias_act import linear_bias_act

        return linear_bias_act(rows, self.weight, self.bias, self.act)

    def extra_repr(self) -> str:
        return (f"in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]}, "
                f"bias={self.bias is not None}, act={self.act!r}")
