"""The runtime half of optimize()'s concat pass: one buffer per concatenation, written in place.

The pass (cnnfast/passes/fuse_concat.py) rewrites ``torch.cat([a, b, ...], 1)`` so that the
buffer is allocated before the first part is computed, each part's last conv writes its slice
(Conv2dBiasAct(..., out=buf.narrow(1, offset, channels))), parts that are not conv outputs are
copied in, and the cat becomes a view of the buffer. These functions are TorchScript-compatible
so that optimize(script=True) compiles the rewritten graph.
"""

from typing import List

import torch

from cnnfast.contracts.geometry import conv_output_size
from cnnfast.contracts.layout import channels_innermost, is_channels_last


def _check_batched(t: torch.Tensor) -> None:
    # The pass read torch.cat(..., 1) as a channel concatenation of (N, C, H, W) maps; for an
    # unbatched (C, H, W) input dim 1 is the height, so refuse rather than compute something else.
    if t.dim() != 4:
        raise ValueError(f"cnnfast: this optimized model concatenates channels of batched (N, C, H, W) maps, "
                         f"but got a {t.dim()}-D tensor; add a batch dimension (x.unsqueeze(0))")


def buffer_for_conv(x: torch.Tensor, kernel: List[int], stride: List[int], padding: List[int],
                    dilation: List[int], channels: int, channels_last: bool) -> torch.Tensor:
    """An uninitialised (N, channels, H_out, W_out) buffer for the output of a conv with this
    geometry applied to x, in the layout that conv would produce."""
    _check_batched(x)
    h = conv_output_size(x.shape[2], kernel[0], stride[0], padding[0], dilation[0])
    w = conv_output_size(x.shape[3], kernel[1], stride[1], padding[1], dilation[1])
    cl = channels_last or is_channels_last(x)
    fmt = torch.channels_last if cl else torch.contiguous_format
    return torch.empty([x.shape[0], channels, h, w], dtype=x.dtype, device=x.device, memory_format=fmt)


def buffer_for_preact(x: torch.Tensor, pool: int, channels: int) -> torch.Tensor:
    """An uninitialised (N, channels, H // pool, W // pool) buffer for the output of preact_conv1x1
    on x, in the layout it would produce (channels_last for channels innermost)."""
    _check_batched(x)
    # (the format chosen inline: TorchScript compiles this, and a memory_format return value it cannot)
    fmt = torch.channels_last if channels_innermost(x, x.shape[2] // pool, x.shape[3] // pool) else torch.contiguous_format
    return torch.empty([x.shape[0], channels, x.shape[2] // pool, x.shape[3] // pool], dtype=x.dtype,
                       device=x.device, memory_format=fmt)


def buffer_like(t: torch.Tensor, channels: int) -> torch.Tensor:
    """An uninitialised buffer with t's batch, spatial size, dtype, device and layout (t may be a
    channel slice of a channels_last tensor: channels innermost counts as channels_last)."""
    _check_batched(t)
    # (the format chosen inline: TorchScript compiles this, and a memory_format return value it cannot)
    fmt = torch.channels_last if channels_innermost(t) else torch.contiguous_format
    return torch.empty([t.shape[0], channels, t.shape[2], t.shape[3]], dtype=t.dtype, device=t.device,
                       memory_format=fmt)


def copy_into(buffer: torch.Tensor, offset: int, t: torch.Tensor) -> torch.Tensor:
    """buffer[:, offset:offset + C] = t (a part no conv could write in place); returns the slice."""
    part = buffer.narrow(1, offset, t.shape[1])
    part.copy_(t)
    return part


def joined(buffer: torch.Tensor, offset: int, channels: int, parts: List[torch.Tensor]) -> torch.Tensor:
    """The concatenation of the parts written at channels [offset, offset + channels): a view of
    the buffer. `parts` (the written slices) are taken only so that the graph orders every write
    before this read."""
    return buffer.narrow(1, offset, channels)
