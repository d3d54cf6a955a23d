"""Which kernels a fused module runs on CUDA tensors (the backends: cnnfast/config.py).

Each fused module holds its model's choice in its `gpu_backend` attribute, set by
optimize(..., gpu_backend=...); a `with cnnfast.config.gpu_backend(...)` block overrides it for
the calls made inside. CPU tensors and TorchScript always take the registered C++ kernels.
"""

import torch

from cnnfast.config import scoped_gpu_backend


@torch.jit.unused
def cuda_backend(choice: str, x: torch.Tensor) -> str:
    """"" for a tensor that is not on a GPU (the C++ kernels run), else the backend in force: the
    innermost scoped one, or the module's own `choice`. Call it under `if not
    torch.jit.is_scripting():` so TorchScript keeps only the C++ path."""
    if not x.is_cuda:
        return ""
    scoped = scoped_gpu_backend()
    return scoped if scoped is not None else choice
