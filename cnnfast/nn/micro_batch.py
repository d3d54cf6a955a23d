"""MicroBatch: a run of layers applied to a batch a few images at a time.

A layer at batch 8 over a 56x56x256 map reads and writes 26 MB tensors: more than the last-level
cache, so every layer streams its input and output from memory. The same layers one or two images
at a time keep each tensor (3.2 MB an image) in cache from the layer that writes it to the one that
reads it. optimize()'s micro-batch step (cnnfast/passes/micro_batch.py) puts a run of such layers
(a graph region whose layers treat each image on its own) in one of these, with the chunk size
its cache budget gives.

The result is assembled in place: the region's last conv writes each chunk straight into its
slice of the output (Conv2dBiasAct's `out`), only the first chunk (run before the output's shape
is known, for an input unlike optimize()'s example) is copied in; a region that ends in another op
has each chunk copied.
"""

from typing import List, Optional, Tuple

import torch
import torch.nn as nn

from cnnfast.contracts.layout import is_channels_last


class MicroBatch(nn.Module):
    """``region(x)`` computed `chunk` images at a time. region: an fx.GraphModule taking
    ``(x, out=None)``; with `writes_out` it writes its result into `out` when given one.

    `example` ((C, H, W) of an input image, its layout, (C, H, W) of the output image, its layout;
    from the graph run on optimize()'s example) lets the output be allocated before the first
    chunk runs, so that every chunk is written in place; for any other input the first chunk's
    result gives the output's shape and is copied in."""

    def __init__(self, region: nn.Module, chunk: int, writes_out: bool,
                 example: Optional[Tuple[List[int], bool, List[int], bool]] = None):
        super().__init__()
        if chunk < 1:
            raise ValueError(f"MicroBatch: chunk must be at least 1, got {chunk}")
        self.region = region
        self.chunk = chunk
        self.writes_out = writes_out
        self.in_shape: List[int] = list(example[0]) if example is not None else []
        self.in_channels_last = bool(example[1]) if example is not None else False
        self.out_shape: List[int] = list(example[2]) if example is not None else []
        self.out_channels_last = bool(example[3]) if example is not None else False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if x.dim() != 4 or n <= self.chunk:  # unbatched maps, or a batch that fits one chunk
            return self.region(x)
        start = 0
        if list(x.shape[1:]) == self.in_shape and is_channels_last(x) == self.in_channels_last:
            fmt = torch.channels_last if self.out_channels_last else torch.contiguous_format
            out = torch.empty([n] + self.out_shape, dtype=x.dtype, device=x.device, memory_format=fmt)
        else:
            first = self.region(x.narrow(0, 0, self.chunk))
            fmt = torch.channels_last if is_channels_last(first) else torch.contiguous_format
            out = torch.empty([n] + list(first.shape[1:]), dtype=first.dtype, device=first.device,
                              memory_format=fmt)
            out.narrow(0, 0, self.chunk).copy_(first)
            start = self.chunk
        while start < n:
            size = min(self.chunk, n - start)
            part = out.narrow(0, start, size)
            y = self.region(x.narrow(0, start, size), part)
            if not self.writes_out:
                part.copy_(y)
            start += size
        return out

    def extra_repr(self) -> str:
        return f"chunk={self.chunk}, writes_out={self.writes_out}"
