"""PreactConv1x1: the module form of cnnfast.ops.preact_conv1x1, built from BatchNorm2d + a 1x1 conv."""

from typing import Optional

import torch
import torch.nn as nn

from cnnfast.config import DEFAULT_GPU_BACKEND
from cnnfast.nn._gpu_backend import cuda_backend
from cnnfast.nn._frozen import register_frozen
from cnnfast.nn.conv2d_bias_act import batchnorm_affine64
from cnnfast.contracts.activations import check_activation


def batchnorm_affine(bn: nn.modules.batchnorm._BatchNorm):
    """(scale, shift) of an eval-mode BN in its parameters' dtype, rounded once from float64."""
    scale, shift = batchnorm_affine64(bn)
    dtype = bn.running_mean.dtype if bn.weight is None else bn.weight.dtype
    return scale.to(dtype), shift.to(dtype)


class PreactConv1x1(nn.Module):
    """``act(conv1x1(relu(bn(x))) + bias)`` through cnnfast.ops.preact_conv1x1: a DenseNet layer's
    norm1 -> relu1 -> conv1 (with norm2 and relu2 already folded into conv1 as bias and act), or
    with pool=2 a transition's norm -> relu -> conv -> 2x2 avg pool. Parameters are frozen: this is
    an inference module."""

    __constants__ = ["act", "pool"]

    def __init__(self, scale: torch.Tensor, shift: torch.Tensor, weight: torch.Tensor,
                 bias: Optional[torch.Tensor], act: str = "none", pool: int = 1):
        super().__init__()
        self.gpu_backend = DEFAULT_GPU_BACKEND  # the CUDA kernels to run (cnnfast/nn/_gpu_backend.py)
        check_activation(act)
        register_frozen(self, "scale", scale)
        register_frozen(self, "shift", shift)
        register_frozen(self, "weight", weight)
        register_frozen(self, "bias", bias)
        self.act = act
        self.pool = int(pool)

    def forward(self, x: torch.Tensor, out: Optional[torch.Tensor] = None) -> torch.Tensor:
        """With `out` (a channel slice of a concat buffer, written by optimize()'s concat pass: a
        transition's output is the next dense block's first part) the result is written there and
        `out` is returned."""
        # is_scripting() stays inline so TorchScript drops the Triton branch.
        if not torch.jit.is_scripting() and cuda_backend(self.gpu_backend, x) == "triton":
            return self.forward_triton(x, out)
        if out is not None:
            torch.ops.cnnfast.preact_conv1x1_out(x, self.scale, self.shift, self.weight, self.bias, self.act,
                                                 self.pool, out)
            return out
        return torch.ops.cnnfast.preact_conv1x1(x, self.scale, self.shift, self.weight, self.bias, self.act,
                                                self.pool)

    @torch.jit.unused
    def forward_triton(self, x: torch.Tensor, out: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The same computation through cnnfast/triton (gpu_backend "triton"); with `out`, copied there."""
        from cnnfast.triton.preact_conv1x1 import preact_conv1x1

        y = preact_conv1x1(x, self.scale, self.shift, self.weight, self.bias, self.act, self.pool)
        if out is None:
            return y
        out.copy_(y)
        return out

    def extra_repr(self) -> str:
        o, i = self.weight.shape[:2]
        pool = f", avg_pool={self.pool}" if self.pool > 1 else ""
        return f"{i}, {o}, bn+relu prologue{pool}, bias={self.bias is not None}, act={self.act!r}"
