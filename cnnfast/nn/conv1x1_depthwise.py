"""Conv1x1Depthwise: a 1x1 Conv2dBiasAct and the depthwise Conv2dBiasAct it feeds, as one call of
cnnfast.ops.conv1x1_depthwise on the CPU."""

from typing import List

import torch
import torch.nn as nn

from cnnfast.nn.conv2d_bias_act import Conv2dBiasAct


class Conv1x1Depthwise(nn.Module):
    """``depthwise(pointwise(x))``: on the CPU one conv1x1_depthwise call (its kernel computes the
    1x1 conv's rows into the depthwise conv's input ring where that pays: csrc/ops/conv1x1_depthwise);
    on other devices the two modules as they are, with their GPU backends. Inference only."""

    stride: List[int]
    padding: List[int]
    dilation: List[int]
    __constants__ = ["act1", "act2", "channels_last"]

    def __init__(self, pointwise: Conv2dBiasAct, depthwise: Conv2dBiasAct):
        super().__init__()
        self.pointwise = pointwise
        self.depthwise = depthwise
        # Copied out: TorchScript cannot read another module's constants.
        self.act1, self.act2 = pointwise.act, depthwise.act
        self.stride, self.padding, self.dilation = list(depthwise.stride), list(depthwise.padding), list(depthwise.dilation)
        self.channels_last = pointwise.channels_last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not x.is_cpu or x.dim() != 4:
            return self.depthwise(self.pointwise(x))
        if self.channels_last and not x.is_contiguous(memory_format=torch.channels_last):
            x = torch.ops.cnnfast.to_channels_last(x)
        p, d = self.pointwise, self.depthwise
        return torch.ops.cnnfast.conv1x1_depthwise(x, p.weight, p.bias, self.act1, d.weight, d.bias, self.stride,
                                                   self.padding, self.dilation, self.act2)

    def extra_repr(self) -> str:
        return "one call on the CPU: the 1x1 conv's rows computed into the depthwise conv's input"
