"""cnnfast.ops.to_channels_last: x copied into a new channels_last tensor.

What ``x.contiguous(memory_format=torch.channels_last)`` computes, always as a new tensor (an op
that could return its input would alias it, which torch.compile and export must be told about).
optimize()'s convs call it on an input that is not channels_last yet (a network's NCHW image):
ATen's copy into that layout took ~100 us for one 3 x 224 x 224 image. Schema and kernels:
csrc/ops/to_channels_last.
"""

import torch


def to_channels_last(x: torch.Tensor) -> torch.Tensor:
    """x (N, C, H, W), any layout and dtype -> the same values in a new channels_last tensor."""
    return torch.ops.cnnfast.to_channels_last(x)


@torch.library.register_fake("cnnfast::to_channels_last")
def _to_channels_last_fake(x):
    torch._check(x.dim() == 4, lambda: f"cnnfast.to_channels_last: x must be 4-D, got {x.dim()}-D")
    return torch.empty_like(x, memory_format=torch.channels_last)
