"""cnnfast.ops.conv1x1_depthwise: a 1x1 conv and the depthwise conv it feeds, in one op.

The expansion and depthwise conv of an inverted residual block (MobileNetV2/V3, EfficientNet) and
ShuffleNet's branch. On the CPU (fp32, channels_last, maps of 56x56 and larger) the 1x1 conv's
output rows are computed straight into the depthwise kernel's ring of input rows, so that map (3.2
MB for MobileNetV3's 64 x 112 x 112) is never written to memory nor read back; elsewhere the two
convs run as conv2d_bias_act calls. Schema and kernels: csrc/ops/conv1x1_depthwise.
"""

from typing import Optional

import torch

from cnnfast.contracts.activations import check_activation
from cnnfast.contracts.geometry import IntPair, conv_output_size, pair
from cnnfast.contracts.layout import conv_memory_format
from cnnfast.ops._backend import check_backend, use_triton


def conv1x1_depthwise(x: torch.Tensor, weight1: torch.Tensor, bias1: Optional[torch.Tensor], act1: str,
                      weight2: torch.Tensor, bias2: Optional[torch.Tensor] = None, stride: IntPair = 1,
                      padding: IntPair = 0, dilation: IntPair = 1, act2: str = "none", *,
                      backend: str = "auto") -> torch.Tensor:
    """``act2(depthwise_conv2d(act1(conv1x1(x, weight1) + bias1), weight2) + bias2)``.

    x: (N, C, H, W), NCHW or channels_last; weight1: (C_mid, C, 1, 1); bias1: (C_mid,) or None;
    weight2: (C_mid, 1, kH, kW), one filter per channel; bias2: (C_mid,) or None; stride, padding,
    dilation: the depthwise conv's. Returns (N, C_mid, H_out, W_out) in x's layout (as
    conv2d_bias_act). Inference only. backend: "auto" (the C++/CUDA kernels) or "triton"
    (cnnfast/triton/conv1x1_depthwise.py: the two convs as two launches).
    """
    check_activation(act1)
    check_activation(act2)
    check_backend(backend)
    stride, padding, dilation = pair(stride, "stride"), pair(padding, "padding"), pair(dilation, "dilation")
    if use_triton(backend):
        from cnnfast.triton.conv1x1_depthwise import conv1x1_depthwise as triton_conv1x1_depthwise

        return triton_conv1x1_depthwise(x, weight1, bias1, act1, weight2, bias2, stride, padding, dilation, act2)
    return torch.ops.cnnfast.conv1x1_depthwise(x, weight1, bias1, act1, weight2, bias2, stride, padding, dilation,
                                               act2)


@torch.library.register_fake("cnnfast::conv1x1_depthwise")
def _conv1x1_depthwise_fake(x, weight1, bias1, act1, weight2, bias2, stride, padding, dilation, act2):
    torch._check(x.dim() == 4, lambda: f"cnnfast.conv1x1_depthwise: x must be 4-D, got {x.dim()}-D")
    torch._check(weight1.dim() == 4 and weight1.shape[1] == x.shape[1] and weight1.shape[2] == 1
                 and weight1.shape[3] == 1,
                 lambda: f"cnnfast.conv1x1_depthwise: weight1 must have shape (C_mid, {x.shape[1]}, 1, 1)")
    torch._check(weight2.dim() == 4 and weight2.shape[0] == weight1.shape[0] and weight2.shape[1] == 1,
                 lambda: f"cnnfast.conv1x1_depthwise: weight2 must have shape ({weight1.shape[0]}, 1, kH, kW)")
    out_hw = [conv_output_size(x.shape[2 + d], weight2.shape[2 + d], stride[d], padding[d], dilation[d])
              for d in range(2)]
    shape = (x.shape[0], weight1.shape[0], out_hw[0], out_hw[1])
    # The layout rule is conv2d_bias_act's, applied to the 1x1 conv's output, which has x's.
    return torch.empty(shape, dtype=x.dtype, device=x.device, memory_format=conv_memory_format(x))
