"""cnnfast.ops.se_scale: the scaling of a squeeze-and-excitation block, with the residual add and
activation that follow it in SE-ResNet, in one pass over the map.

Schema and kernels: csrc/ops/se_scale; Triton version: cnnfast/triton/se_scale.py.
"""

from typing import Optional

import torch

from cnnfast.contracts.activations import check_activation
from cnnfast.contracts.layout import elementwise_memory_format
from cnnfast.ops._backend import check_backend, use_triton


def se_scale(x: torch.Tensor, gate: torch.Tensor, residual: Optional[torch.Tensor] = None,
             act: str = "none", *, backend: str = "auto") -> torch.Tensor:
    """``act(x * gate[:, :, None, None] + residual)``.

    x: (N, C, H, W), NCHW or channels_last; gate: (N, C) or (N, C, 1, 1); residual: None or x's
    shape (any layout); act: a cnnfast activation name. Returns x's shape in x's layout.
    backend: "auto" (the C++/CUDA kernel) or "triton".
    """
    check_activation(act)
    check_backend(backend)
    if use_triton(backend):
        from cnnfast.triton.se_scale import se_scale as triton_se_scale

        return triton_se_scale(x, gate, residual, act)
    return torch.ops.cnnfast.se_scale(x, gate, residual, act)


def se_scale_(x: torch.Tensor, gate: torch.Tensor, residual: Optional[torch.Tensor] = None,
              act: str = "none", *, backend: str = "auto") -> torch.Tensor:
    """se_scale written over x, which is returned: for an SE block's input, which nothing reads
    afterwards (about a third less memory traffic than a fresh output)."""
    check_activation(act)
    check_backend(backend)
    if use_triton(backend):
        from cnnfast.triton.se_scale import se_scale as triton_se_scale

        return triton_se_scale(x, gate, residual, act, out=x)
    torch.ops.cnnfast.se_scale_(x, gate, residual, act)
    return x


@torch.library.register_fake("cnnfast::se_scale")
def _se_scale_fake(x, gate, residual, act):
    torch._check(x.dim() == 4, lambda: f"cnnfast.se_scale: x must be 4-D (N, C, H, W), got {x.dim()}-D")
    torch._check(gate.numel() == x.shape[0] * x.shape[1],
                 lambda: "cnnfast.se_scale: gate must have shape (N, C) or (N, C, 1, 1)")
    if residual is not None:
        torch._check(residual.shape == x.shape, lambda: "cnnfast.se_scale: residual must have x's shape")
    return torch.empty(x.shape, dtype=x.dtype, device=x.device, memory_format=elementwise_memory_format(x))


@torch.library.register_fake("cnnfast::se_scale_")
def _se_scale_inplace_fake(x, gate, residual, act):
    _se_scale_fake(x, gate, residual, act)  # the same checks; the op returns nothing
