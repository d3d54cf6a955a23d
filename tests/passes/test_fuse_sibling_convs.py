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


class ReduceHeads(nn.Module):
    """Inception's block: a 1x1 branch beside 1x1 reduce convs that feed 3x3 convs."""

    def __init__(self):
        super().__init__()
        self.branch, self.reduce_a, self.reduce_b = _cbr(8, 4, 1), _cbr(8, 5, 1), _cbr(8, 6, 1)
        self.conv_a, self.conv_b = _cbr(5, 3, 3), _cbr(6, 3, 3)

    def forward(self, x):
        return torch.cat([self.branch(x), self.conv_a(self.reduce_a(x)), self.conv_b(self.reduce_b(x))], 1)


@pytest.mark.parametrize("batch", [1, 3])
def test_heads_feeding_convs_stay_apart(batch):
    fast = check_same(ReduceHeads(), torch.randn(batch, 8, 7, 7))
    report = cnnfast.report(fast)
    assert not any("sibling" in k for k in report.fused)
    assert sum("sibling conv left apart" in why for _, why in report.skipped) == 2
    assert sum(isinstance(m, Conv2dBiasAct) for m in fast.modules()) == 5
