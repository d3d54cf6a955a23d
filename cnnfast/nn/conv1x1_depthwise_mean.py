"""Conv1x1DepthwiseMean: a Conv1x1Depthwise that also returns the per-channel mean of its output,
for the squeeze-and-excitation block after it (cnnfast.ops.conv1x1_depthwise_mean on the CPU)."""

from typing import List, Optional, Tuple

import torch
import torch.nn as nn

from cnnfast.nn.conv1x1_depthwise import Conv1x1Depthwise


class Conv1x1DepthwiseMean(nn.Module):
    """``(y, y.mean((2, 3)))`` for ``y = pair(x)``: on the CPU one conv1x1_depthwise_mean call (the
    depthwise kernel sums each output row as it stores it, fused with the 1x1 conv or not); on other
    devices, and for unbatched inputs, the pair as it is and no mean (None): the SE block then
    squeezes y itself. Inference only."""

    stride: List[int]
    padding: List[int]
    dilation: List[int]
    __constants__ = ["act1", "act2", "channels_last"]

    def __init__(self, pair: Conv1x1Depthwise):
        super().__init__()
        self.pair = pair
        # Copied out: TorchScript cannot read another module's constants.
        self.act1, self.act2, self.channels_last = pair.act1, pair.act2, pair.channels_last
        self.stride, self.padding, self.dilation = list(pair.stride), list(pair.padding), list(pair.dilation)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        if not x.is_cpu or x.dim() != 4:
            return self.pair(x), None
        if self.channels_last and not x.is_contiguous(memory_format=torch.channels_last):
            x = torch.ops.cnnfast.to_channels_last(x)
        p, d = self.pair.pointwise, self.pair.depthwise
        y, mean = torch.ops.cnnfast.conv1x1_depthwise_mean(x, p.weight, p.bias, self.act1, d.weight, d.bias,
                                                           self.stride, self.padding, self.dilation, self.act2)
        return y, mean

    def extra_repr(self) -> str:
        return "the output's channel means taken by the depthwise kernel as it stores (CPU)"
