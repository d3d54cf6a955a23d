"""Process-wide runtime choices for optimized models."""

GPU_BACKENDS = ("cuda", "triton", "cudnn")

# Which kernels the fused modules (Conv2dBiasAct, SqueezeExciteScale, LinearBiasAct) run on CUDA
# tensors: "cuda", the C++/CUDA kernels (the only ones TorchScript and C++ see), or "triton",
# the Triton kernels in cnnfast/triton (eager and torch.compile), or "cudnn": convs with a ReLU
# as one cuDNN fused graph (conv + bias (+ residual) + ReLU through ATen's
# cudnn_convolution_relu / cudnn_convolution_add_relu, no separate epilogue kernel), everything
# else as "cuda". CPU tensors always take the C++ kernels.
gpu_backend = "cuda"


def set_gpu_backend(name: str) -> None:
    """cnnfast.config.set_gpu_backend("triton") routes every fused module's CUDA calls to Triton."""
    global gpu_backend
    if name not in GPU_BACKENDS:
        raise ValueError(f"cnnfast: gpu backend must be one of {', '.join(GPU_BACKENDS)}; got {name!r}")
    gpu_backend = name
