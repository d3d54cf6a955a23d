"""cnnfast.ops.se_squeeze: the squeeze of a squeeze-and-excitation block, the mean of each channel.

Schema and kernels: csrc/ops/se_squeeze; Triton version: cnnfast/triton/se_squeeze.py.
"""

import torch

from cnnfast.ops._backend import check_backend, use_triton


def se_squeeze(x: torch.Tensor, *, backend: str = "auto") -> torch.Tensor:
    """Per-channel mean over H x W: x (N, C, H, W), NCHW or channels_last -> (N, C) in x's dtype
    (accumulated in fp32, fp64 for double). backend: "auto" (the C++/CUDA kernel) or "triton"."""
    check_backend(backend)
    if use_triton(backend):
        from cnnfast.triton.se_squeeze import se_squeeze as triton_se_squeeze

        return triton_se_squeeze(x)
    return torch.ops.cnnfast.se_squeeze(x)


@torch.library.register_fake("cnnfast::se_squeeze")
def _se_squeeze_fake(x):
    torch._check(x.dim() == 4, lambda: f"cnnfast.se_squeeze: x must be 4-D (N, C, H, W), got {x.dim()}-D")
    torch._check(x.shape[2] * x.shape[3] > 0, lambda: "cnnfast.se_squeeze: x has an empty H x W map")
    return x.new_empty((x.shape[0], x.shape[1]))
