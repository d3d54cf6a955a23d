"""fuse_activation: an activation right after a fused conv runs in the conv's epilogue, for every
activation cnnfast has, as module, function or method; one used by two readers is not fused."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import cnnfast
from cnnfast.nn import Conv2dBiasAct
from tests._helpers import check_same

ACTS = [(nn.ReLU, "relu"), (nn.ReLU6, "relu6"), (nn.SiLU, "silu"), (nn.Sigmoid, "sigmoid"),
        (nn.Hardswish, "hardswish"), (nn.Hardsigmoid, "hardsigmoid"), (nn.Tanh, "tanh")]


@pytest.mark.parametrize("module,act", ACTS, ids=[a for _, a in ACTS])
@pytest.mark.parametrize("batch", [1, 3])
def test_each_activation_goes_into_the_conv(module, act, batch):
    model = nn.Sequential(nn.Conv2d(5, 12, 3, padding=1), nn.BatchNorm2d(12), module())
    fast = check_same(model, torch.randn(batch, 5, 9, 9) * 3)
    convs = [m for m in fast.modules() if isinstance(m, Conv2dBiasAct)]
    assert [c.act for c in convs] == [act]


class FunctionalForms(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Conv2d(4, 8, 3, padding=1), nn.Conv2d(8, 8, 1), nn.Conv2d(8, 8, 1)

    def forward(self, x):
        x = F.relu(self.a(x))
        x = torch.sigmoid(self.b(x))
        return self.c(x).relu()


def test_function_and_method_forms_are_fused():
    fast = check_same(FunctionalForms(), torch.randn(2, 4, 8, 8))
    assert sorted(m.act for m in fast.modules() if isinstance(m, Conv2dBiasAct)) == ["relu", "relu", "sigmoid"]


class PreActivationRead(nn.Module):
    """The conv's output is read before the ReLU as well: the ReLU must stay separate."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        return F.relu(y) + y


def test_activation_of_a_value_read_twice_is_not_fused():
    fast = check_same(PreActivationRead(), torch.randn(2, 4, 8, 8))
    assert [m.act for m in fast.modules() if isinstance(m, Conv2dBiasAct)] == ["none"]
    assert "+relu" not in cnnfast.report(fast).fused
