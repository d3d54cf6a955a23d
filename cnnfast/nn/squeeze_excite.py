"""SqueezeExciteScale: a whole squeeze-and-excitation block (and the residual add + activation
after it) as three cnnfast ops: se_squeeze -> se_excite -> se_scale (the squeeze skipped where the
conv before the block hands over its output's channel means, Conv2dBiasActMean)."""

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnfast.config import DEFAULT_GPU_BACKEND
from cnnfast.nn._gpu_backend import cuda_backend
from cnnfast.nn._frozen import register_frozen
from cnnfast.contracts.activations import check_activation


class SqueezeExciteScale(nn.Module):
    """``act(x * act2(fc2(act1(fc1(mean_hw(x))))) + residual)`` for x (N, C, H, W) in either layout.

    w1 (R, C) / b1 (R,) and w2 (C, R) / b2 (C,) are the two FC layers (from Linear or 1x1 Conv2d).
    With ``inplace`` the result is written over x, which the caller guarantees nothing else reads
    (optimize() sets it only when x is a fresh conv output used by this block alone).
    A residual that only broadcasts to x (never in SE-ResNet) is added unfused, as eager would.
    ``pool_by_height``: the model pooled with ``F.avg_pool2d(x, x.size(2))``, a global mean only
    on square maps; on any other map the block computes what that code computes, unfused.
    """

    __constants__ = ["act1", "act2", "act", "inplace", "pool_by_height"]

    def __init__(self, w1: torch.Tensor, b1: Optional[torch.Tensor], w2: torch.Tensor,
                 b2: Optional[torch.Tensor], act1: str = "relu", act2: str = "sigmoid",
                 act: str = "none", inplace: bool = False, pool_by_height: bool = False):
        super().__init__()
        self.gpu_backend = DEFAULT_GPU_BACKEND  # the CUDA kernels to run (cnnfast/nn/_gpu_backend.py)
        for a in (act1, act2, act):
            check_activation(a)
        r, c = w1.shape[0], w2.shape[0]
        register_frozen(self, "w1", w1.reshape(r, -1))
        register_frozen(self, "w2", w2.reshape(c, -1))
        register_frozen(self, "b1", b1)
        register_frozen(self, "b2", b2)
        self.act1, self.act2, self.act = act1, act2, act
        self.inplace = bool(inplace)
        self.pool_by_height = bool(pool_by_height)

    def forward(self, x: torch.Tensor, residual: Optional[torch.Tensor] = None,
                mean: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``mean``: x's per-channel mean over H x W, (N, C), where the conv that made x took it
        (Conv2dBiasActMean); None: the block squeezes x itself."""
        unbatched = x.dim() == 3
        if unbatched:
            x = x.unsqueeze(0)
            if residual is not None:
                residual = residual.unsqueeze(0)
        if self.pool_by_height and x.shape[2] != x.shape[3]:
            y = self._pooled_by_height(x, residual)
            return y.squeeze(0) if unbatched else y
        if not torch.jit.is_scripting() and cuda_backend(self.gpu_backend, x) == "triton":
            y = self.forward_triton(x, residual, mean)
            return y.squeeze(0) if unbatched else y
        s = mean if mean is not None else torch.ops.cnnfast.se_squeeze(x)
        gate = torch.ops.cnnfast.se_excite(s, self.w1, self.b1, self.w2, self.b2, self.act1, self.act2)
        if residual is not None and residual.shape != x.shape:
            y = _activation(torch.ops.cnnfast.se_scale(x, gate, None, "none") + residual, self.act)
        elif self.inplace:
            torch.ops.cnnfast.se_scale_(x, gate, residual, self.act)
            y = x
        else:
            y = torch.ops.cnnfast.se_scale(x, gate, residual, self.act)
        return y.squeeze(0) if unbatched else y

    def _pooled_by_height(self, x: torch.Tensor, residual: Optional[torch.Tensor]) -> torch.Tensor:
        """The block as the model wrote it, for a map that is not square: pool by the height
        (an H x H window, (N, C, 1, W // H)), the two FC layers per pooled position, the scale."""
        p = F.avg_pool2d(x, x.shape[2])
        h = torch.einsum("rc,nchw->nrhw", self.w1, p)
        b1, b2 = self.b1, self.b2
        if b1 is not None:
            h = h + b1.view(1, -1, 1, 1)
        g = torch.einsum("cr,nrhw->nchw", self.w2, _activation(h, self.act1))
        if b2 is not None:
            g = g + b2.view(1, -1, 1, 1)
        y = x * _activation(g, self.act2)
        if residual is not None:
            y = y + residual
        return _activation(y, self.act)

    @torch.jit.unused
    def forward_triton(self, x: torch.Tensor, residual: Optional[torch.Tensor] = None,
                       mean: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The same computation through cnnfast/triton (gpu_backend "triton")."""
        from cnnfast.triton.se_excite import se_excite
        from cnnfast.triton.se_scale import se_scale
        from cnnfast.triton.se_squeeze import se_squeeze

        gate = se_excite(mean if mean is not None else se_squeeze(x), self.w1, self.b1, self.w2, self.b2, self.act1, self.act2)
        if residual is not None and residual.shape != x.shape:
            return _activation(se_scale(x, gate, None, "none") + residual, self.act)
        return se_scale(x, gate, residual, self.act, out=x if self.inplace else None)

    def extra_repr(self) -> str:
        return (f"channels={self.w2.shape[0]}, hidden={self.w1.shape[0]}, act1={self.act1!r}, "
                f"act2={self.act2!r}, act={self.act!r}, inplace={self.inplace}"
                + (", pool_by_height=True" if self.pool_by_height else ""))


def _activation(y: torch.Tensor, act: str) -> torch.Tensor:
    # The activations a fused residual add can carry (fuse_squeeze_excite takes any of them).
    if act == "relu":
        return F.relu(y)
    if act == "relu6":
        return F.relu6(y)
    if act == "silu":
        return F.silu(y)
    if act == "sigmoid":
        return torch.sigmoid(y)
    if act == "hardswish":
        return F.hardswish(y)
    if act == "hardsigmoid":
        return F.hardsigmoid(y)
    if act == "tanh":
        return torch.tanh(y)
    return y
