"""conv1x1_depthwise_mean in Triton: the two convs (cnnfast/triton/conv1x1_depthwise.py), then the
Triton squeeze over the output. The map is read back by the squeeze: summing in the depthwise
epilogue was not written without a GPU to measure it on."""

from typing import Optional, Sequence, Tuple

import torch

from cnnfast.triton.conv1x1_depthwise import conv1x1_depthwise
from cnnfast.triton.se_squeeze import se_squeeze


def conv1x1_depthwise_mean(x: torch.Tensor, weight1: torch.Tensor, bias1: Optional[torch.Tensor], act1: str,
                           weight2: torch.Tensor, bias2: Optional[torch.Tensor], stride: Sequence[int],
                           padding: Sequence[int], dilation: Sequence[int],
                           act2: str) -> Tuple[torch.Tensor, torch.Tensor]:
    """Like torch.ops.cnnfast.conv1x1_depthwise_mean (output in x's layout, means (N, C_mid))."""
    y = conv1x1_depthwise(x, weight1, bias1, act1, weight2, bias2, stride, padding, dilation, act2)
    return y, se_squeeze(y)
