"""fuse_sibling_convs: 1x1 convs reading the same input (an Inception block's branch heads) become
one conv whose output is split; convs of other kernel sizes or on other inputs stay apart."""

import pytest
import torch
import torch.nn as nn

import cnnfast
from cnnfast.nn import Conv2dBiasAct
from tests._helpers import check_same


def _cbr(c_in, c_out, k):
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class Heads(nn.Module):
    def __init__(self, kernels):
        super().__init__()
        self.heads = nn.ModuleList(_cbr(8, 4 + i, k) for i, k in enumerate(kernels))

    def forward(self, x):
        return torch.cat([h(x) for h in self.heads], 1)


@pytest.mark.parametrize("batch", [1, 3])
def test_three_1x1_heads_become_one_conv(batch):
    fast = check_same(Heads([1, 1, 1]), torch.randn(batch, 8, 7, 7))
    assert cnnfast.report(fast).fused["3 sibling convs -> 1"] == 1
    assert sum(isinstance(m, Conv2dBiasAct) for m in fast.modules()) == 1


def test_different_kernels_stay_apart():
    fast = check_same(Heads([1, 3]), torch.randn(2, 8, 7, 7))
    assert not any("sibling" in k for k in cnnfast.report(fast).fused)
    assert sum(isinstance(m, Conv2dBiasAct) for m in fast.modules()) == 2
