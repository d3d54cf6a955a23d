"""cnnfast.ops.conv1x1_depthwise_mean: conv1x1_depthwise and the per-channel mean of its output.

What the squeeze-and-excitation block of an inverted residual (MobileNetV3, EfficientNet) needs
from its expansion and depthwise conv: the map and its mean over H x W per channel. On the CPU
(fp32, channels_last) the depthwise kernel adds each output row it has just stored into
per-thread channel sums, fused with the 1x1 conv or not, so the squeeze costs no second read of
the map; elsewhere the op is conv1x1_depthwise then se_squeeze. Schema and kernels:
csrc/ops/conv1x1_depthwise_mean.
"""

from typing import Optional, Tuple

import torch

from cnnfast.contracts.activations import check_activation
from cnnfast.contracts.geometry import IntPair, pair
from cnnfast.ops._backend import check_backend, use_triton
from cnnfast.ops.conv1x1_depthwise import _conv1x1_depthwise_fake


def conv1x1_depthwise_mean(x: torch.Tensor, weight1: torch.Tensor, bias1: Optional[torch.Tensor], act1: str,
                           weight2: torch.Tensor, bias2: Optional[torch.Tensor] = None, stride: IntPair = 1,
                           padding: IntPair = 0, dilation: IntPair = 1, act2: str = "none", *,
                           backend: str = "auto") -> Tuple[torch.Tensor, torch.Tensor]:
    """``(y, y.mean((2, 3)))`` for ``y = conv1x1_depthwise(x, ...)``; arguments as
    cnnfast.ops.conv1x1_depthwise. The means are (N, C_mid) in x's dtype, accumulated in fp32 (the
    last bits may differ from se_squeeze's: another summation order). Inference only. backend:
    "auto" (the C++/CUDA kernels) or "triton" (its two convs, then its squeeze)."""
    check_activation(act1)
    check_activation(act2)
    check_backend(backend)
    stride, padding, dilation = pair(stride, "stride"), pair(padding, "padding"), pair(dilation, "dilation")
    if use_triton(backend):
        from cnnfast.triton.conv1x1_depthwise_mean import conv1x1_depthwise_mean as triton_conv1x1_depthwise_mean

        return triton_conv1x1_depthwise_mean(x, weight1, bias1, act1, weight2, bias2, stride, padding, dilation, act2)
    return torch.ops.cnnfast.conv1x1_depthwise_mean(x, weight1, bias1, act1, weight2, bias2, stride, padding,
                                                    dilation, act2)


@torch.library.register_fake("cnnfast::conv1x1_depthwise_mean")
def _conv1x1_depthwise_mean_fake(x, weight1, bias1, act1, weight2, bias2, stride, padding, dilation, act2):
    out = _conv1x1_depthwise_fake(x, weight1, bias1, act1, weight2, bias2, stride, padding, dilation, act2)
    return out, x.new_empty((out.shape[0], out.shape[1]))
