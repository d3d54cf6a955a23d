"""cnnfast.ops.conv2d_bias_act_out: conv2d_bias_act written into a tensor the caller provides.

`out` may have any strides; the use it exists for is a channel slice of a concat buffer
(``buf[:, 64:192]``), so that the branches of an Inception block or the new features of a dense
layer land in their place in the block output and no torch.cat copies them there afterwards.
Schema and kernels: csrc/ops/conv2d_bias_act_out (CPU: oneDNN writes the slice directly for
channels_last fp32/bf16; elsewhere the result is computed and copied in). backend="triton": the
Triton kernel's epilogue stores straight into the slice.
"""

from typing import Optional

import torch

from cnnfast.contracts.activations import check_activation
from cnnfast.ops._backend import check_backend, use_triton
from cnnfast.contracts.geometry import IntPair, pair
from cnnfast.ops.conv2d_bias_act import _conv2d_bias_act_fake


def conv2d_bias_act_out(
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
    out: torch.Tensor,
    backend: str = "auto",
) -> torch.Tensor:
    """``out[...] = act(conv2d(x, weight, bias, ...) + residual)``; returns out.

    out must have the output's shape (N, C_out, H_out, W_out), x's dtype and device, and must not
    share memory with x. Arguments otherwise as cnnfast.ops.conv2d_bias_act.
    """
    check_activation(act)
    check_backend(backend)
    stride, padding, dilation = pair(stride, "stride"), pair(padding, "padding"), pair(dilation, "dilation")
    if use_triton(backend):
        from cnnfast.triton.conv2d_bias_act import conv2d_bias_act as triton_conv2d_bias_act

        expected = _conv2d_bias_act_fake(x, weight, bias, stride, padding, dilation, groups, residual, act).shape
        if tuple(out.shape) != tuple(expected):
            raise ValueError(f"cnnfast.conv2d_bias_act_out: out has shape {tuple(out.shape)} but the "
                             f"convolution's output has shape {tuple(expected)}")
        return triton_conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, residual, act, out=out)
    torch.ops.cnnfast.conv2d_bias_act_out(x, weight, bias, stride, padding, dilation, groups, residual, act, out)
    return out


@torch.library.register_fake("cnnfast::conv2d_bias_act_out")
def _conv2d_bias_act_out_fake(x, weight, bias, stride, padding, dilation, groups, residual, act, out):
    expected = _conv2d_bias_act_fake(x, weight, bias, stride, padding, dilation, groups, residual, act).shape
    torch._check(tuple(out.shape) == tuple(expected),
                 lambda: f"cnnfast.conv2d_bias_act_out: out has shape {tuple(out.shape)}, expected {tuple(expected)}")
    torch._check(out.dtype == x.dtype, lambda: "cnnfast.conv2d_bias_act_out: out dtype differs from x dtype")
