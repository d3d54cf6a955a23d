"""Helpers for checking optimized models against eager ones (used by tests, benchmarks, the CLI)."""

import torch


def randomize_batchnorm(model: torch.nn.Module, seed: int = 1) -> torch.nn.Module:
    """Give every BatchNorm non-trivial running stats (mean ~ N(0, 0.1), var ~ U(0.5, 1.5)) and
    affine params (gamma ~ U(0.5, 1.5), beta ~ N(0, 0.1)), in place, so that a randomly
    initialised model exercises BN folding instead of folding an identity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                if m.running_mean is not None:
                    m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                    m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                if m.affine:
                    m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return model


def rel_err(out: torch.Tensor, ref: torch.Tensor) -> float:
    """max |out - ref| / max |ref|: relative to the output's scale, which for random-init models
    ranges over many orders of magnitude."""
    scale = ref.abs().max().double().clamp_min(1e-30)
    return ((out.double() - ref.double()).abs().max() / scale).item()


def to_layout(t: torch.Tensor, layout: str) -> torch.Tensor:
    """t in one of the layouts kernels must accept: "nchw", "channels_last", or "strided" (a
    non-contiguous view, as slicing a bigger tensor gives)."""
    if layout == "nchw":
        return t.contiguous()
    if layout == "channels_last":
        return t.contiguous(memory_format=torch.channels_last)
    if layout == "strided":
        return torch.cat([t, t], dim=3)[..., ::2]
    raise ValueError(f"unknown layout {layout!r}")
