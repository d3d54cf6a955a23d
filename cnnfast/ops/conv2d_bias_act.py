"""cnnfast.ops.conv2d_bias_act: conv + bias + optional residual add + activation in one op.

The schema and kernels live in csrc/ops/conv2d_bias_act; this file holds the typed Python
wrapper and the fake (meta) kernel that torch.compile / torch.export trace with.
"""

from typing import Optional

import torch

from cnnfast.contracts.activations import check_activation
from cnnfast.contracts.geometry import IntPair, conv_output_size, pair
from cnnfast.contracts.layout import conv_memory_format
from cnnfast.ops._backend import check_backend, use_triton



def conv2d_bias_act(
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
) -> torch.Tensor:
    """``act(conv2d(x, weight, bias, ...) + residual)`` in one call.

    x: (N, C_in, H, W), NCHW or channels_last; weight: (C_out, C_in/groups, kH, kW);
    bias: (C_out,) or None; residual: broadcastable to the output (N, C_out, H_out, W_out) or None;
    act: one of none, relu, relu6, silu, sigmoid, hardswish, hardsigmoid, tanh.
    Returns (N, C_out, H_out, W_out) in x's layout. Inference only (no backward).
    backend: "auto" (the C++/CUDA kernels) or "triton" (ATen's conv, then the Triton epilogue;
    cnnfast.triton.conv2d_bias_act also has an implicit-GEMM conv and writes into slices).
    """
    check_activation(act)
    check_backend(backend)
    stride, padding, dilation = pair(stride, "stride"), pair(padding, "padding"), pair(dilation, "dilation")
    if use_triton(backend):
        from cnnfast.triton.conv2d_bias_act import conv2d_bias_act as triton_conv2d_bias_act

        return triton_conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, residual, act)
    return torch.ops.cnnfast.conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, residual, act)


@torch.library.register_fake("cnnfast::conv2d_bias_act")
def _conv2d_bias_act_fake(x, weight, bias, stride, padding, dilation, groups, residual, act):
    torch._check(x.dim() == 4, lambda: f"cnnfast.conv2d_bias_act: x must be 4-D, got {x.dim()}-D")
    torch._check(weight.dim() == 4, lambda: "cnnfast.conv2d_bias_act: weight must be 4-D")
    torch._check(
        x.shape[1] == weight.shape[1] * groups,
        lambda: f"cnnfast.conv2d_bias_act: x has {x.shape[1]} channels but weight expects "
        f"{weight.shape[1] * groups}",
    )
    torch._check(x.shape[1] > 0 and x.shape[2] > 0 and x.shape[3] > 0,
                 lambda: "cnnfast.conv2d_bias_act: x must have non-zero channels, height and width")
    torch._check(weight.shape[0] > 0, lambda: "cnnfast.conv2d_bias_act: weight must have output channels")
    out_hw = [conv_output_size(x.shape[2 + d], weight.shape[2 + d], stride[d], padding[d], dilation[d])
              for d in range(2)]
    shape = (x.shape[0], weight.shape[0], out_hw[0], out_hw[1])
    return torch.empty(shape, dtype=x.dtype, device=x.device, memory_format=conv_memory_format(x))
