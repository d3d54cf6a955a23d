"""Which implementation a cnnfast.ops call runs: the C++/CUDA kernels or the Triton ones."""

BACKENDS = ("auto", "triton")


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"cnnfast: backend must be one of {', '.join(BACKENDS)}; got {backend!r}")


def use_triton(backend: str) -> bool:
    """The Triton kernels run on CUDA tensors, or on CPU tensors under TRITON_INTERPRET=1 (tests).
    "auto" always means the registered C++/CUDA kernels (TorchScript and C++ see only those)."""
    return backend == "triton"
