"""Which memory format each op's output has: results keep their input's layout.

Mirrors csrc/common/memory_format.h (elementwise rule) and the output-format functions of the conv
and preact ops in C++ (named below). A tensor can be both NCHW- and channels_last-contiguous (one
channel, or a 1x1 map); each rule says which it counts as, and the real kernels give exactly the
strides the fake kernels promise.
"""

import torch


def is_channels_last(x: torch.Tensor) -> bool:
    """channels_last-contiguous and not also plain contiguous."""
    return x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


def elementwise_memory_format(x: torch.Tensor) -> torch.memory_format:
    """The elementwise ops (se_scale, max_pool2d, shuffle_channels): channels_last when x is
    channels_last and not also plain contiguous, else contiguous (elementwise_memory_format)."""
    return torch.channels_last if is_channels_last(x) else torch.contiguous_format


def conv_memory_format(x: torch.Tensor) -> torch.memory_format:
    """conv2d_bias_act's output (csrc/ops/conv2d_bias_act/conv2d_bias_act.h): x's layout; where x
    is both, a single-channel image counts as channels_last and anything else (1x1 maps) as NCHW."""
    if not x.is_contiguous(memory_format=torch.channels_last):
        return torch.contiguous_format
    if not x.is_contiguous():
        return torch.channels_last
    if x.shape[1] == 1 and x.shape[2] * x.shape[3] > 1:
        return torch.channels_last
    return torch.contiguous_format


def channels_innermost(x: torch.Tensor, height: int = -1, width: int = -1) -> bool:
    """x keeps its channels innermost (channels_last, or a channel slice of a channels_last
    tensor) and the map, or the (height, width) given for an output, has more than one pixel."""
    h = x.shape[2] if height < 0 else height
    w = x.shape[3] if width < 0 else width
    return x.stride(1) == 1 and x.shape[1] > 1 and h * w > 1


def preact_memory_format(x: torch.Tensor, pool: int = 1) -> torch.memory_format:
    """preact_conv1x1's output (preact_output_format in csrc/ops/preact_conv1x1/preact_conv1x1.h):
    channels_last when x has its channels innermost and the pooled map is larger than 1x1."""
    cl = channels_innermost(x, x.shape[2] // pool, x.shape[3] // pool)
    return torch.channels_last if cl else torch.contiguous_format

