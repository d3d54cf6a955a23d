"""Triton implementations of cnnfast ops: alternative GPU kernels for the same math, selected with
backend="triton" in cnnfast.ops; tested on the CPU under TRITON_INTERPRET=1."""
