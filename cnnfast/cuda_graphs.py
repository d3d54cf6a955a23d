"""CUDA graphs for optimized models: capture once per input shape, then replay with one launch.

At small batch a GPU runs these networks in a few milliseconds, much of it spent launching
kernels; a captured graph replays the whole forward pass as one launch.
"""

from typing import Dict, Tuple

import torch
import torch.nn as nn


class CUDAGraphModel(nn.Module):
    """Wraps a CUDA inference model; `forward(*tensors)` replays a CUDA graph captured for that
    input signature (shapes, strides, dtypes, device), capturing it on first sight.

    Inputs are copied into the graph's static input buffers, so callers may pass any tensor.
    With `clone_outputs=True` (default) each call returns fresh tensors that stay valid; with
    False it returns the graph's static output buffers, which the next call overwrites (faster:
    no copy), so use them before calling again. One graph and its memory pool per signature:
    a model called with many shapes holds many graphs (`len(model.graphs)`; `reset()` frees them).
    """

    def __init__(self, model: nn.Module, warmup: int = 3, clone_outputs: bool = True):
        super().__init__()
        if not torch.cuda.is_available():
            raise ValueError("cnnfast CUDA graphs need a CUDA device; none is available")
        tensors = list(model.parameters()) + list(model.buffers())
        if not tensors or any(t.device.type != "cuda" for t in tensors):
            raise ValueError("cnnfast CUDA graphs need the model on a CUDA device: call model.cuda() first")
        self.model = model
        self.warmup = int(warmup)
        self.clone_outputs = bool(clone_outputs)
        self.graphs: Dict[Tuple, Tuple] = {}

    @staticmethod
    def _signature(args) -> Tuple:
        for a in args:
            if not isinstance(a, torch.Tensor) or a.device.type != "cuda":
                raise TypeError("cnnfast CUDA graphs take CUDA tensors as inputs, got "
                                f"{type(a).__name__ if not isinstance(a, torch.Tensor) else a.device}")
        return tuple((tuple(a.shape), a.stride(), a.dtype, a.device) for a in args)

    def _capture(self, args):
        static_in = [a.clone() for a in args]  # keeps the caller's strides
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), torch.inference_mode():
            for _ in range(self.warmup):  # cuDNN autotuning, prepacking, allocator warm-up
                self.model(*static_in)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph), torch.inference_mode():
            static_out = self.model(*static_in)
        return graph, static_in, static_out

    def forward(self, *args):
        key = self._signature(args)
        entry = self.graphs.get(key)
        if entry is None:
            entry = self.graphs[key] = self._capture(args)
        graph, static_in, static_out = entry
        for buf, a in zip(static_in, args):
            buf.copy_(a)
        graph.replay()
        if not self.clone_outputs:
            return static_out
        return torch.utils._pytree.tree_map(lambda t: t.clone() if isinstance(t, torch.Tensor) else t, static_out)

    def reset(self) -> None:
        """Drop every captured graph and its memory."""
        self.graphs.clear()
