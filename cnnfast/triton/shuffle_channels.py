"""shuffle_channels in Triton: one program per (image, block of pixels, block of output channels)
loads each output channel from the input the index points into; strided loads and stores serve
NCHW and channels_last alike. The inputs are concatenated first when there are several (one kernel
argument list for any number of inputs)."""

from typing import List

import torch
import triton
import triton.language as tl

from cnnfast.contracts.layout import elementwise_memory_format


@triton.jit
def _gather_kernel(x_ptr, idx_ptr, o_ptr, C_OUT, HW, W, sxn, sxc, sxh, sxw, son, soc, soh, sow,
                   BP: tl.constexpr, BC: tl.constexpr):
    n = tl.program_id(0)
    p = tl.program_id(1) * BP + tl.arange(0, BP)
    c = tl.program_id(2) * BC + tl.arange(0, BC)
    ok_c = c < C_OUT
    src = tl.load(idx_ptr + c, mask=ok_c, other=0)
    h = p // W
    w = p % W
    ok = (p < HW)[:, None] & ok_c[None, :]
    v = tl.load(x_ptr + n * sxn + src[None, :] * sxc + (h * sxh + w * sxw)[:, None], mask=ok)
    tl.store(o_ptr + n * son + c[None, :] * soc + (h * soh + w * sow)[:, None], v, mask=ok)


def shuffle_channels(inputs: List[torch.Tensor], index: torch.Tensor, split: List[int]) -> List[torch.Tensor]:
    """Like torch.ops.cnnfast.shuffle_channels (outputs in inputs[0]'s layout)."""
    if not inputs or any(t.dim() != 4 for t in inputs):
        raise ValueError("cnnfast.shuffle_channels (Triton): inputs must be one or more 4-D tensors")
    if index.dtype != torch.int64 or index.dim() != 1 or index.shape[0] != sum(split):
        raise ValueError("cnnfast.shuffle_channels (Triton): index must be 1-D int64 with sum(split) values")
    x = inputs[0]
    fmt = elementwise_memory_format(x)
    src = x if len(inputs) == 1 else torch.cat(inputs, 1)
    n, c, h, w = src.shape
    # Checked only for a CPU index (the interpreter): on a GPU the check would synchronise on every
    # call and break CUDA-graph capture; the optimize() pass builds the index, in range.
    if index.numel() and index.device.type == "cpu" and not bool(((index >= 0) & (index < c)).all()):
        raise ValueError(f"cnnfast.shuffle_channels (Triton): index values must lie in [0, {c})")
    outs, start = [], 0
    for s in split:  # one launch per output, each reading its slice of the index
        out = torch.empty((n, s, h, w), dtype=x.dtype, device=x.device, memory_format=fmt)
        if out.numel():
            bp, bc = 64, min(64, triton.next_power_of_2(s))
            grid = (n, triton.cdiv(h * w, bp), triton.cdiv(s, bc))
            _gather_kernel[grid](src, index[start:start + s], out, s, h * w, w, *src.stride(), *out.stride(),
                                 BP=bp, BC=bc)
        outs.append(out)
        start += s
    return outs
