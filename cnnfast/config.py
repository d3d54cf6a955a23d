"""Process-wide runtime choices for optimized models."""

GPU_BACKENDS = ("cuda", "triton", "cudnn")

# Which kernels the fused modules (Conv2dBiasAct, SqueezeExciteScale, LinearBiasAct) run on CUDA
# tensors. CPU tensors always take the C++ kernels.
# - "cudnn" (default): convs with a ReLU as one cuDNN fused graph (conv + bias (+ residual) +
#   ReLU through ATen's cudnn_convolution_relu / cudnn_convolution_add_relu, no separate
#   epilogue kernel); everything else as "cuda". Measured on an H200 (benchmarks/results/
#   gpu_h200): as fast as "cuda" or faster in 15 of 16 model cases, up to 1.8x (ResNet-50 fp16
#   batch 32), within 5% in the other.
# - "cuda": the C++/CUDA kernels (cuDNN conv + cnnfast's epilogue kernel); the only ones
#   TorchScript and C++ (LibTorch) see, whatever is chosen here.
# - "triton": the Triton kernels in cnnfast/triton (eager and torch.compile).
gpu_backend = "cudnn"


def set_gpu_backend(name: str) -> None:
    """cnnfast.config.set_gpu_backend("triton") routes every fused module's CUDA calls to Triton."""
    global gpu_backend
    if name not in GPU_BACKENDS:
        raise ValueError(f"cnnfast: gpu backend must be one of {', '.join(GPU_BACKENDS)}; got {name!r}")
    gpu_backend = name
