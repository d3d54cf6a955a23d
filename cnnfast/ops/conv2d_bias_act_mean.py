"""cnnfast.ops.conv2d_bias_act_mean: conv2d_bias_act and the per-channel mean of its output.

What a squeeze-and-excitation block needs from the conv before it: the map, and its mean over
H x W per channel (the squeeze). On the CPU (fp32, channels_last, the direct depthwise / 1x1 /
grouped kernels and the conv engine) the conv kernel adds each output block it has just stored,
still in cache, into per-thread channel sums, so the squeeze costs no second read of the map;
elsewhere the op is conv2d_bias_act then se_squeeze. Schema and kernels:
csrc/ops/conv2d_bias_act_mean.
"""

from typing import Optional, Tuple

import torch

from cnnfast.contracts.activations import check_activation
from cnnfast.contracts.geometry import IntPair, pair
from cnnfast.ops._backend import check_backend, use_triton
from cnnfast.ops.conv2d_bias_act import _conv2d_bias_act_fake


def conv2d_bias_act_mean(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
    residual: Optional[torch.Tensor] = None,
    act: str = "none",
    *,
    backend: str = "auto",
) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(y, y.mean((2, 3)))`` for ``y = act(conv2d(x, weight, bias, ...) + residual)``.

    Arguments as cnnfast.ops.conv2d_bias_act. Returns y (N, C_out, H_out, W_out) in x's layout and
    the means (N, C_out) in x's dtype, accumulated in fp32 (as se_squeeze; the sums are added in
    another order, so the last bits may differ from it). Inference only. backend: "auto" (the
    C++/CUDA kernels) or "triton" (the Triton conv epilogue, then the Triton squeeze).
    """
    check_activation(act)
    check_backend(backend)
    stride, padding, dilation = pair(stride, "stride"), pair(padding, "padding"), pair(dilation, "dilation")
    if use_triton(backend):
        from cnnfast.triton.conv2d_bias_act_mean import conv2d_bias_act_mean as triton_conv2d_bias_act_mean

        return triton_conv2d_bias_act_mean(x, weight, bias, stride, padding, dilation, groups, residual, act)
    return torch.ops.cnnfast.conv2d_bias_act_mean(x, weight, bias, stride, padding, dilation, groups, residual, act)


@torch.library.register_fake("cnnfast::conv2d_bias_act_mean")
def _conv2d_bias_act_mean_fake(x, weight, bias, stride, padding, dilation, groups, residual, act):
    out = _conv2d_bias_act_fake(x, weight, bias, stride, padding, dilation, groups, residual, act)
    return out, x.new_empty((out.shape[0], out.shape[1]))
