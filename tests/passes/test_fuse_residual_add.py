"""fuse_residual_add: conv (+ BN) + skip + activation as one op with the skip added in the
epilogue, whichever side of the + the conv is on, also for an in-place +=."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import cnnfast
from tests._helpers import check_same


class Block(nn.Module):
    def __init__(self, conv_first=True):
        super().__init__()
        self.conv, self.bn, self.conv_first = nn.Conv2d(6, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6), conv_first

    def forward(self, x):
        y = self.bn(self.conv(x))
        return F.relu(y + x if self.conv_first else x + y)


@pytest.mark.parametrize("conv_first", [True, False], ids=["conv+x", "x+conv"])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last], ids=["nchw", "nhwc"])
def test_skip_is_added_in_the_epilogue(conv_first, layout):
    x = torch.randn(2, 6, 7, 7).contiguous(memory_format=layout)
    fast = check_same(Block(conv_first), x)
    assert cnnfast.report(fast).fused["conv+add+relu"] == 1


class Projection(nn.Module):
    """A strided projection shortcut: the residual is itself a fused conv's output."""

    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(nn.Conv2d(4, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8))
        self.down = nn.Sequential(nn.Conv2d(4, 8, 1, 2, bias=False), nn.BatchNorm2d(8))

    def forward(self, x):
        return torch.relu(self.main(x) + self.down(x))


@pytest.mark.parametrize("batch", [1, 3])
def test_projection_shortcut(batch):
    fast = check_same(Projection(), torch.randn(batch, 4, 9, 9))
    assert cnnfast.report(fast).fused["conv+add+relu"] == 1


class InplaceSkip(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        y = x.clone()
        y += self.conv(x)  # nothing else reads y: the in-place add can become the epilogue's
        return y * 2


def test_inplace_add_on_a_fresh_tensor_is_fused():
    # (an in-place add into a tensor read again afterwards is not: tests/test_optimize_safety.py)
    fast = check_same(InplaceSkip(), torch.randn(2, 4, 6, 6))
    assert any(p.startswith("conv+add") for p in cnnfast.report(fast).fused)
