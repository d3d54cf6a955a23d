"""conv2d_bias_act_out in plain PyTorch: the unfused conv2d_bias_act, copied into out."""

from typing import Optional, Sequence

import torch

from cnnfast.reference.conv2d_bias_act import conv2d_bias_act


def conv2d_bias_act_out(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                        stride: Sequence[int] = (1, 1), padding: Sequence[int] = (0, 0),
                        dilation: Sequence[int] = (1, 1), groups: int = 1,
                        residual: Optional[torch.Tensor] = None, act: str = "none", *,
                        out: torch.Tensor) -> torch.Tensor:
    out.copy_(conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, residual, act))
    return out
