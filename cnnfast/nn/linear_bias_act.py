"""LinearBiasAct: the module form of cnnfast.ops.linear_bias_act, built from an nn.Linear."""

from typing import Optional

import torch
import torch.nn as nn

from cnnfast.ops._activations import check_activation


class LinearBiasAct(nn.Module):
    """``act(linear(x))`` for x (..., K): leading dimensions are flattened into rows and restored.
    Parameters are frozen: this is an inference module."""

    __constants__ = ["act"]

    def __init__(self, weight: torch.Tensor, bias: Optional[torch.Tensor], act: str = "none"):
        super().__init__()
        check_activation(act)
        self.weight = nn.Parameter(weight.detach().contiguous(), requires_grad=False)
        if bias is not None:
            self.bias = nn.Parameter(bias.detach().contiguous(), requires_grad=False)
        else:
            self.register_parameter("bias", None)
        self.act = act

    @classmethod
    def from_linear(cls, linear: nn.Linear, act: str = "none") -> "LinearBiasAct":
        return cls(linear.weight, linear.bias, act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            return torch.ops.cnnfast.linear_bias_act(x, self.weight, self.bias, self.act)
        lead = x.shape[:-1]
        y = torch.ops.cnnfast.linear_bias_act(x.reshape(-1, x.shape[-1]), self.weight, self.bias, self.act)
        return y.reshape(list(lead) + [self.weight.shape[0]])

    def extra_repr(self) -> str:
        return (f"in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]}, "
                f"bias={self.bias is not None}, act={self.act!r}")
