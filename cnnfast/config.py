"""Process-wide runtime choices for optimized models."""

GPU_BACKENDS = ("cuda", "triton")

# Which kernels the fused modules (Conv2dBiasAct, SqueezeExciteScale, LinearBiasAct) run on CUDA
# tensors: "cuda", the C++/CUDA kernels (the only ones TorchScript and C++ see), or "triton",
# the Triton kernels in cnnfast/triton (eager and torch.compile). CPU tensors always take the C++ kernels.
gpu_backend = "cuda"


def set_gpu_backend(name: str) -> None:
    """cnnfast.config.set_gpu_backend("triton") routes every fused module's CUDA calls to Triton."""
    global gpu_backend
    if name not in GPU_BACKENDS:
        raise ValueError(f"cnnfast: gpu backend must be one of {', '.join(GPU_BACKENDS)}; got {name!r}")
    gpu_backend = name
