"""Conv2dBiasActMean: a Conv2dBiasAct that also returns the per-channel mean of its output, for
the squeeze-and-excitation block after it (cnnfast.ops.conv2d_bias_act_mean on the CPU)."""

from typing import List, Optional, Tuple

import torch
import torch.nn as nn

from cnnfast.nn.conv2d_bias_act import Conv2dBiasAct


class Conv2dBiasActMean(nn.Module):
    """``(y, y.mean((2, 3)))`` for ``y = conv(x, residual)``: on the CPU one conv2d_bias_act_mean
    call (the conv kernel sums each output block as it stores it, so the SE block's squeeze needs
    no pass of its own over the map); on other devices, and for unbatched inputs, the conv module
    as it is (with its GPU backend) and no mean (None): the SE block then squeezes y itself.
    Inference only."""

    stride: List[int]
    padding: List[int]
    dilation: List[int]
    __constants__ = ["groups", "act", "channels_last"]

    def __init__(self, conv: Conv2dBiasAct):
        super().__init__()
        self.conv = conv
        # Copied out: TorchScript cannot read another module's constants.
        self.groups, self.act, self.channels_last = conv.groups, conv.act, conv.channels_last
        self.stride, self.padding, self.dilation = list(conv.stride), list(conv.padding), list(conv.dilation)

    def forward(self, x: torch.Tensor, residual: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        if not x.is_cpu or x.dim() != 4:
            return self.conv(x, residual), None
        if self.channels_last and not x.is_contiguous(memory_format=torch.channels_last):
            x = torch.ops.cnnfast.to_channels_last(x)
        c = self.conv
        y, mean = torch.ops.cnnfast.conv2d_bias_act_mean(x, c.weight, c.bias, self.stride, self.padding, self.dilation,
                                                         self.groups, residual, self.act)
        return y, mean

    def extra_repr(self) -> str:
        return "the output's channel means taken by the conv kernel as it stores (CPU)"
