"""cnnfast.ops.shuffle_channels: concatenate channels, reorder them and split, in one pass.

ShuffleNet V2 ends every block with ``torch.cat`` (one copy), a channel shuffle (view, transpose,
contiguous: a second copy, which also leaves channels_last) and, in the next block, ``chunk(2)``.
This op writes each output channel once, straight from where it lies; optimize()'s
fold_channel_shuffle pass chooses the index so the copy is a few long runs per pixel and folds the
remaining order into the next convs' weights. Schema and kernels: csrc/ops/shuffle_channels.
Triton version: cnnfast/triton/shuffle_channels.py.
"""

from typing import List, Sequence

import torch

from cnnfast.contracts.layout import elementwise_memory_format
from cnnfast.ops._backend import check_backend, use_triton


def shuffle_channels(inputs: Sequence[torch.Tensor], index: torch.Tensor, split: Sequence[int], *,
                     backend: str = "auto") -> List[torch.Tensor]:
    """``torch.cat(inputs, 1)[:, index].split(split, 1)``, each output a dense tensor.

    inputs: (N, C_i, H, W) tensors sharing N, H, W, dtype and device, either layout (the outputs
    take inputs[0]'s: channels_last if it is channels_last). index: int64 (sum(split),) on the
    inputs' device, values in [0, sum(C_i)); a channel may be taken more than once or not at all.
    backend: "auto" (the C++/CUDA kernel) or "triton".
    """
    check_backend(backend)
    split = [int(s) for s in split]
    if use_triton(backend):
        from cnnfast.triton.shuffle_channels import shuffle_channels as triton_shuffle_channels

        return triton_shuffle_channels(list(inputs), index, split)
    return torch.ops.cnnfast.shuffle_channels(list(inputs), index, split)


@torch.library.register_fake("cnnfast::shuffle_channels")
def _shuffle_channels_fake(inputs, index, split):
    torch._check(len(inputs) > 0, lambda: "cnnfast.shuffle_channels: inputs must hold at least one tensor")
    x = inputs[0]
    torch._check(index.dim() == 1 and index.shape[0] == sum(split),
                 lambda: f"cnnfast.shuffle_channels: index must be 1-D with sum(split) = {sum(split)} values")
    fmt = elementwise_memory_format(x)
    return [torch.empty((x.shape[0], s, x.shape[2], x.shape[3]), dtype=x.dtype, device=x.device, memory_format=fmt)
            for s in split]
