"""view_to_reshape: Tensor.view on a fused conv's output (channels_last, so not view-able as
NCHW-flat) becomes reshape, so user code like x.view(-1, 400) keeps working."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import cnnfast
from tests._helpers import check_same


class LeNetView(nn.Module):
    """LeNet-5 as often written, with x.view(-1, 400) after channels_last convs."""

    def __init__(self):
        super().__init__()
        self.c1, self.c3 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
        self.f5, self.f6, self.out = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        x = F.avg_pool2d(torch.relu(self.c1(x)), 2)
        x = F.avg_pool2d(torch.relu(self.c3(x)), 2)
        x = x.view(-1, 16 * 5 * 5)
        x = self.drop(F.relu(self.f5(x)))
        return self.out(F.relu(self.f6(x)))


@pytest.mark.parametrize("batch", [1, 4])
def test_view_after_channels_last_conv(batch):
    fast = check_same(LeNetView(), torch.randn(batch, 1, 32, 32))
    rep = cnnfast.report(fast)
    assert rep.fused["conv"] == 2 and rep.fused["+relu"] == 2 and rep.fused["dropout removed"] == 1


class ViewAfterConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        return y.view(y.size(0), 4, -1).mean(2)


def test_view_of_a_conv_output_becomes_reshape():
    fast = check_same(ViewAfterConv(), torch.randn(2, 3, 6, 6))
    assert any("Tensor.view -> reshape" in k for k in cnnfast.report(fast).fused) or any(
        "view" in n for n in cnnfast.report(fast).notes)
