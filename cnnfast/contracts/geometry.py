"""Convolution and pooling geometry: argument pairs and output sizes (ATen's formulas)."""

from typing import List, Sequence, Union

IntPair = Union[int, Sequence[int]]


def pair(v: IntPair, what: str = "argument") -> List[int]:
    """[v, v] for an int, else the two ints of v; `what` names the argument in the error."""
    if isinstance(v, int):
        return [v, v]
    v = [int(i) for i in v]
    if len(v) != 2:
        raise ValueError(f"cnnfast: {what} must be an int or a pair, got {v}")
    return v


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """One spatial dimension of a convolution's output (csrc/conv_engine/geometry.h, conv_out_size)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pool_output_size(size: int, kernel: int, stride: int, padding: int, ceil_mode: bool) -> int:
    """One spatial dimension of a max/avg pool's output, dilation 1 (mirrors check_max_pool2d in
    csrc/ops/max_pool2d/max_pool2d.cpp). In ceil mode the last window must start inside the input
    or its left padding, as in ATen."""
    span = size + 2 * padding - kernel
    o = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (o - 1) * stride >= size + padding:
        o -= 1
    return o
