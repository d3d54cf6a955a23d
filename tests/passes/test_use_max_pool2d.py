"""use_max_pool2d: nn.MaxPool2d and F.max_pool2d (dilation 1, no indices) become cnnfast's
max_pool2d; pools asking for indices or dilation stay ATen's."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnfast.nn.max_pool2d import max_pool2d
from tests._helpers import check_same


def _pool_calls(model):
    return sum(n.op == "call_function" and n.target is max_pool2d
               for g in model.modules() if isinstance(g, torch.fx.GraphModule) for n in g.graph.nodes)


@pytest.mark.parametrize("pool", [nn.MaxPool2d(3, 2, 1), nn.MaxPool2d(3, 2, ceil_mode=True), nn.MaxPool2d(2)],
                         ids=["3s2p1", "3s2ceil", "2"])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last], ids=["nchw", "nhwc"])
def test_max_pools_are_replaced(pool, layout):
    x = torch.randn(2, 6, 11, 11).contiguous(memory_format=layout)
    fast = check_same(nn.Sequential(nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(), pool), x)
    assert _pool_calls(fast) == 1


class Functional(nn.Module):
    def __init__(self, **kw):
        super().__init__()
        self.conv, self.kw = nn.Conv2d(3, 4, 3), kw

    def forward(self, x):
        return F.max_pool2d(self.conv(x), 2, **self.kw)


def test_functional_pool_is_replaced():
    assert _pool_calls(check_same(Functional(), torch.randn(1, 3, 10, 10))) == 1


def test_dilated_pool_is_left_to_aten():
    fast = check_same(Functional(dilation=2), torch.randn(1, 3, 12, 12))
    assert _pool_calls(fast) == 0
