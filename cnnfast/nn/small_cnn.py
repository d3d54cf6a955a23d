"""SmallCNN: a whole small network (convs with activation and pooling, then linear layers) as one
cnnfast.ops.small_cnn call; optimize()'s fuse_small_cnn builds it from LeNet-like models."""

from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from cnnfast.config import DEFAULT_GPU_BACKEND
from cnnfast.nn._gpu_backend import cuda_backend
from cnnfast.contracts.small_cnn_program import CONV, FIELDS


class SmallCNN(nn.Module):
    """Runs `program` (cnnfast.ops.small_cnn's layer list) with one weight and bias per layer.
    A layer without a bias holds an empty one (the op's "none"). Parameters are frozen: this is an
    inference module."""

    program: List[int]
    __jit_ignored_attributes__ = ["_lists"]

    def __init__(self, weights: Sequence[torch.Tensor], biases: Sequence[Optional[torch.Tensor]],
                 program: Sequence[int]):
        super().__init__()
        self.gpu_backend = DEFAULT_GPU_BACKEND  # the CUDA kernels to run (cnnfast/nn/_gpu_backend.py)
        if len(program) != FIELDS * len(weights) or len(biases) != len(weights):
            raise ValueError("cnnfast.SmallCNN: program must have 6 ints per layer, one weight and bias each")
        self.weights = nn.ParameterList([nn.Parameter(w.detach().contiguous(), requires_grad=False) for w in weights])
        self.biases = nn.ParameterList([
            nn.Parameter((b if b is not None else w.new_empty(0)).detach().contiguous(), requires_grad=False)
            for w, b in zip(weights, biases)])
        self.program = [int(v) for v in program]
        self._lists: Optional[Tuple[List[torch.Tensor], List[torch.Tensor]]] = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            ws: List[torch.Tensor] = []
            bs: List[torch.Tensor] = []
            for w in self.weights:
                ws.append(w)
            for b in self.biases:
                bs.append(b)
            return torch.ops.cnnfast.small_cnn(x, ws, bs, self.program)
        ws, bs = self._cached()
        if cuda_backend(self.gpu_backend, x) == "triton":
            return self.forward_triton(x)
        return torch.ops.cnnfast.small_cnn(x, ws, bs, self.program)

    @torch.jit.unused
    def forward_triton(self, x: torch.Tensor) -> torch.Tensor:
        """The same computation through cnnfast/triton (gpu_backend "triton")."""
        from cnnfast.triton.small_cnn import small_cnn

        ws, bs = self._cached()
        return small_cnn(x, ws, bs, self.program)

    @torch.jit.unused
    def _cached(self):
        # Iterating a ParameterList costs ~0.5 us per entry, about as much as LeNet's arithmetic
        # per layer; the lists are built once and rebuilt when .to()/.cuda()/.half() replace the
        # parameters (see _apply).
        if self._lists is None:
            self._lists = (list(self.weights), list(self.biases))
        return self._lists

    def _apply(self, fn, recurse=True):
        self._lists = None
        return super()._apply(fn, recurse)

    def extra_repr(self) -> str:
        kinds = ["conv" if self.program[i * FIELDS] == CONV else "linear" for i in range(len(self.weights))]
        return f"layers={'+'.join(kinds)}"
