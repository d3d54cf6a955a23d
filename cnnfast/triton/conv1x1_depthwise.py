"""conv1x1_depthwise in Triton: the 1x1 conv as the implicit-GEMM kernel with its epilogue fused,
then the depthwise conv (ATen's) with the Triton epilogue. Two launches, the 1x1 map written in
between: a fused GPU kernel (the 1x1 tile computed in registers and convolved by the depthwise
filter) was not written without a GPU to measure it on."""

from typing import Optional, Sequence

import torch

from cnnfast.triton.conv2d_bias_act import conv2d_bias_act


def conv1x1_depthwise(x: torch.Tensor, weight1: torch.Tensor, bias1: Optional[torch.Tensor], act1: str,
                      weight2: torch.Tensor, bias2: Optional[torch.Tensor], stride: Sequence[int],
                      padding: Sequence[int], dilation: Sequence[int], act2: str) -> torch.Tensor:
    """Like torch.ops.cnnfast.conv1x1_depthwise (output in x's layout)."""
    mid = conv2d_bias_act(x, weight1, bias1, act=act1, conv="triton")
    return conv2d_bias_act(mid, weight2, bias2, stride, padding, dilation, weight2.shape[0], act=act2)
