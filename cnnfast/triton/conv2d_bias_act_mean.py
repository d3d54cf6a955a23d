"""conv2d_bias_act_mean in Triton: the conv with the Triton epilogue, then the Triton squeeze over
its output. Two launches, the map read back by the second: summing in the conv's epilogue (an
atomic add per channel block and tile) was not written without a GPU to measure it on."""

from typing import Optional, Sequence, Tuple

import torch

from cnnfast.triton.conv2d_bias_act import conv2d_bias_act
from cnnfast.triton.se_squeeze import se_squeeze


def conv2d_bias_act_mean(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor], stride: Sequence[int],
                         padding: Sequence[int], dilation: Sequence[int], groups: int,
                         residual: Optional[torch.Tensor], act: str) -> Tuple[torch.Tensor, torch.Tensor]:
    """Like torch.ops.cnnfast.conv2d_bias_act_mean (output in x's layout, means (N, C_out))."""
    y = conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, residual, act)
    return y, se_squeeze(y)
