"""ShuffleChannels: the module form of cnnfast.ops.shuffle_channels, with its index fixed by
optimize()'s fold_channel_shuffle pass (a buffer, so it follows the model to its device)."""

from typing import List, Sequence

import torch
import torch.nn as nn

from cnnfast.config import DEFAULT_GPU_BACKEND
from cnnfast.nn._gpu_backend import cuda_backend


class ShuffleChannels(nn.Module):
    """``torch.cat(inputs, 1)[:, index].split(split, 1)`` as dense tensors in inputs[0]'s layout."""

    split: List[int]

    def __init__(self, index: Sequence[int], split: Sequence[int]):
        super().__init__()
        self.gpu_backend = DEFAULT_GPU_BACKEND  # the CUDA kernels to run (cnnfast/nn/_gpu_backend.py)
        self.register_buffer("index", torch.tensor(list(index), dtype=torch.int64))
        self.split = [int(s) for s in split]
        if sum(self.split) != len(index):
            raise ValueError(f"cnnfast.nn.ShuffleChannels: split {self.split} does not add up to "
                             f"the {len(index)} index values")

    def forward(self, inputs: List[torch.Tensor]) -> List[torch.Tensor]:
        # is_scripting() stays inline so TorchScript drops the Triton branch.
        if not torch.jit.is_scripting() and cuda_backend(self.gpu_backend, inputs[0]) == "triton":
            return self.forward_triton(inputs)
        return torch.ops.cnnfast.shuffle_channels(inputs, self.index, self.split)

    @torch.jit.unused
    def forward_triton(self, inputs: List[torch.Tensor]) -> List[torch.Tensor]:
        from cnnfast.triton.shuffle_channels import shuffle_channels

        return shuffle_channels(inputs, self.index, self.split)

    def extra_repr(self) -> str:
        return f"channels={self.index.numel()}, split={self.split}"
