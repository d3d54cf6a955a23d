"""Conv2dBiasAct: the module form of cnnfast.ops.conv2d_bias_act, built from a Conv2d (+ BatchNorm)."""

from typing import List, Optional

import torch
import torch.nn as nn

from cnnfast.config import DEFAULT_GPU_BACKEND
from cnnfast.nn._gpu_backend import cuda_backend
from cnnfast.contracts.activations import check_activation
from cnnfast.contracts.geometry import conv_output_size
from cnnfast.nn._frozen import register_frozen


def batchnorm_affine64(bn: nn.modules.batchnorm._BatchNorm):
    """(scale, shift) in float64 with bn(x) == x * scale[c] + shift[c], for an eval-mode BN with
    running stats: scale = gamma / sqrt(var + eps), shift = beta - mean * scale."""
    scale = torch.rsqrt(bn.running_var.detach().double() + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight.detach().double()
    shift = -bn.running_mean.detach().double() * scale
    if bn.bias is not None:
        shift = shift + bn.bias.detach().double()
    return scale, shift


def fold_batchnorm(conv: nn.Conv2d, bn: Optional[nn.modules.batchnorm._BatchNorm], copy: bool = True):
    """Weight and bias of ``bn(conv(x))`` as one conv, for a BN in eval mode with running stats.

    y = gamma * (conv(x) + b - mean) / sqrt(var + eps) + beta, so per output channel
    w' = w * s and b' = (b - mean) * s + beta with s = gamma / sqrt(var + eps). Computed in
    float64 and rounded once, so folding adds a single rounding to each weight. Without a BN the
    conv's own tensors are returned, cloned unless ``copy=False`` (optimize() works on its own copy
    of the model, and cloning VGG-16's 138M weights again cost 0.3 s).
    """
    w = conv.weight.detach()
    b = conv.bias.detach() if conv.bias is not None else None
    if bn is None:
        return (w.clone(), (b.clone() if b is not None else None)) if copy else (w, b)
    w64 = w.double()
    b64 = b.double() if b is not None else torch.zeros(w.shape[0], dtype=torch.float64, device=w.device)
    scale, shift = batchnorm_affine64(bn)
    w_fold = (w64 * scale.reshape(-1, 1, 1, 1)).to(w.dtype)
    b_fold = (b64 * scale + shift).to(w.dtype)
    return w_fold, b_fold


class Conv2dBiasAct(nn.Module):
    """``act(conv2d(x) + bias + residual)`` through cnnfast.ops.conv2d_bias_act.

    Input (N, C_in, H, W) or unbatched (C_in, H, W); with ``channels_last`` the input is moved
    to channels_last first (free when it already is), so a chain of these modules stays in the
    layout oneDNN is fastest in. Parameters are frozen: this is an inference module.
    """

    stride: List[int]
    padding: List[int]
    dilation: List[int]
    __constants__ = ["groups", "act", "channels_last", "min_in_place_floats"]
    # A residual of fewer values than this per image (256 KB of fp32) stays in L2 with the conv's
    # output: storing over it saved nothing measurable (MobileNetV3-L and EfficientNet-B0 at batch 1:
    # 1.00-1.01x), while the checks of _writes_into_residual cost ~1 us a call. Per image, so that
    # torch.export with a dynamic batch sees no guard on it; a class constant, which TorchScript
    # bakes in (it cannot read a module-level global).
    min_in_place_floats = 1 << 16

    def __init__(self, weight: torch.Tensor, bias: Optional[torch.Tensor], stride, padding,
                 dilation, groups: int, act: str = "none", channels_last: bool = True):
        super().__init__()
        self.gpu_backend = DEFAULT_GPU_BACKEND  # the CUDA kernels to run (cnnfast/nn/_gpu_backend.py)
        check_activation(act)
        register_frozen(self, "weight", weight)
        register_frozen(self, "bias", bias)
        self.stride = [int(s) for s in stride]
        self.padding = [int(p) for p in padding]
        self.dilation = [int(d) for d in dilation]
        self.groups = int(groups)
        self.act = act
        self.channels_last = bool(channels_last)
        # Set by optimize()'s reuse_residual_buffer pass where nothing reads the residual after this
        # conv: the result is then stored over it (see _writes_into_residual).
        self.reuse_residual = False
        self._place_weight()

    def _place_weight(self) -> None:
        # cuDNN convolves a channels_last input with a channels_last filter and converts any other
        # filter on every call (one extra copy kernel per conv per forward): on CUDA the filter
        # is stored channels_last once. The CPU kernels take the plain contiguous filter.
        w = self.weight
        if self.channels_last and w.is_cuda and not w.is_contiguous(memory_format=torch.channels_last):
            w.data = w.data.contiguous(memory_format=torch.channels_last)

    def _apply(self, fn, recurse=True):
        # .cuda(), .to(), .half(): re-place the filter for the device it lands on.
        super()._apply(fn, recurse)
        self._place_weight()
        return self

    @classmethod
    def from_modules(cls, conv: nn.Conv2d, bn=None, act: str = "none", channels_last: bool = True):
        """Build from a zero-padded Conv2d and an optional eval-mode BatchNorm2d that follows it."""
        if not isinstance(conv.padding, (tuple, list)):
            raise ValueError(f"cnnfast: conv padding {conv.padding!r} must be resolved to numbers first")
        w, b = fold_batchnorm(conv, bn)
        return cls(w, b, conv.stride, conv.padding, conv.dilation, conv.groups, act, channels_last)

    def forward(self, x: torch.Tensor, residual: Optional[torch.Tensor] = None,
                out: Optional[torch.Tensor] = None) -> torch.Tensor:
        """With `out` (a channel slice of a concat buffer, written by optimize()'s concat pass)
        the result is written there and `out` is returned."""
        unbatched = x.dim() == 3
        if unbatched:
            x = x.unsqueeze(0)
            if residual is not None:
                residual = residual.unsqueeze(0)
            if out is not None:
                out = out.unsqueeze(0)
        if self.channels_last and not x.is_contiguous(memory_format=torch.channels_last):
            x = torch.ops.cnnfast.to_channels_last(x)  # ATen's copy: ~100 us for one RGB image
        if out is None and residual is not None and self.reuse_residual and self._writes_into_residual(x, residual):
            out = residual
        # is_scripting() stays inline in each condition so TorchScript drops the GPU-backend branches.
        backend = ""
        if not torch.jit.is_scripting():
            backend = cuda_backend(self.gpu_backend, x)
        if out is not None:
            if backend == "triton":
                self.forward_triton(x, residual, out)
            else:
                torch.ops.cnnfast.conv2d_bias_act_out(x, self.weight, self.bias, self.stride, self.padding,
                                                      self.dilation, self.groups, residual, self.act, out)
            y = out
        elif not torch.jit.is_scripting() and backend == "triton":
            y = self.forward_triton(x, residual)
        elif not torch.jit.is_scripting() and backend == "cudnn" and self.act == "relu":
            y = self.forward_cudnn(x, residual)
        else:
            y = torch.ops.cnnfast.conv2d_bias_act(x, self.weight, self.bias, self.stride, self.padding,
                                                  self.dilation, self.groups, residual, self.act)
        return y.squeeze(0) if unbatched else y

    def _writes_into_residual(self, x: torch.Tensor, residual: torch.Tensor) -> bool:
        """Whether this call stores its result over the residual, as ONNX Runtime's fused Sum
        does: a fresh output costs a read-for-ownership of every line on top of the residual's
        read (ResNet-50 0.97-0.98x at batch 8, Intel Xeon, benchmarks/results/cpu_reuse_residual.md). Only
        where the CPU kernels store in place (fp32 channels_last) and the residual is exactly the
        output's shape. Anything else (a GPU, bf16, autograd, a broadcast residual) takes the fresh
        output, as do maps under min_in_place_floats an image (the checks below cost ~1 us a call)."""
        if residual.dim() != 4 or residual.size(1) * residual.size(2) * residual.size(3) < self.min_in_place_floats:
            return False
        ho = (x.size(2) + 2 * self.padding[0] - self.dilation[0] * (self.weight.size(2) - 1) - 1) // self.stride[0] + 1
        wo = (x.size(3) + 2 * self.padding[1] - self.dilation[1] * (self.weight.size(3) - 1) - 1) // self.stride[1] + 1
        return (residual.device.type == "cpu" and x.device.type == "cpu" and residual.dtype == torch.float32
                and x.dtype == torch.float32 and not residual.requires_grad and residual.dim() == 4
                and residual.size(0) == x.size(0) and residual.size(1) == self.weight.size(0)
                and residual.size(2) == ho and residual.size(3) == wo
                and residual.is_contiguous(memory_format=torch.channels_last))

    @torch.jit.unused
    def forward_triton(self, x: torch.Tensor, residual: Optional[torch.Tensor] = None,
                       out: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The same computation through cnnfast/triton (gpu_backend "triton")."""
        from cnnfast.triton.conv2d_bias_act import conv2d_bias_act

        return conv2d_bias_act(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                               self.groups, residual, self.act, out=out)

    @torch.jit.unused
    def forward_cudnn(self, x: torch.Tensor, residual: Optional[torch.Tensor] = None) -> torch.Tensor:
        """conv + bias (+ residual) + ReLU as one cuDNN fused graph (CUDA, act="relu" only;
        gpu_backend "cudnn")."""
        if residual is not None and tuple(residual.shape) != self._output_shape(x):
            # cuDNN adds a residual of the output's own shape; a broadcasting one takes the kernel.
            return torch.ops.cnnfast.conv2d_bias_act(x, self.weight, self.bias, self.stride, self.padding,
                                                     self.dilation, self.groups, residual, self.act)
        if residual is None:
            return torch.cudnn_convolution_relu(x, self.weight, self.bias, self.stride, self.padding,
                                                self.dilation, self.groups)
        return torch.cudnn_convolution_add_relu(x, self.weight, residual, 1.0, self.bias, self.stride,
                                                self.padding, self.dilation, self.groups)

    @torch.jit.unused
    def _output_shape(self, x: torch.Tensor):
        hw = [conv_output_size(x.shape[2 + d], self.weight.shape[2 + d], self.stride[d], self.padding[d],
                               self.dilation[d]) for d in range(2)]
        return (x.shape[0], self.weight.shape[0], hw[0], hw[1])

    def extra_repr(self) -> str:
        o, i, kh, kw = self.weight.shape
        s = f"{i * self.groups}, {o}, kernel_size=({kh}, {kw}), stride={tuple(self.stride)}"
        if any(self.padding):
            s += f", padding={tuple(self.padding)}"
        if any(d != 1 for d in self.dilation):
            s += f", dilation={tuple(self.dilation)}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        s += f", bias={self.bias is not None}, act={self.act!r}"
        return s
