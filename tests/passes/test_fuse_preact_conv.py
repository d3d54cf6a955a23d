"""fuse_preact_conv: BN -> ReLU -> 1x1 conv (DenseNet's bottleneck, pre-activation ResNets) as one
preact_conv1x1, with a following 2x2 average pool taken in (DenseNet's transition); a BN the
ReLU does not follow, or a k x k conv, stays as it was."""

import pytest
import torch
import torch.nn as nn

import cnnfast
from cnnfast.nn import PreactConv1x1
from tests._helpers import check_same


def _preact(c_in, c_out, k=1, pool=False):
    layers = [nn.BatchNorm2d(c_in), nn.ReLU(), nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False)]
    return nn.Sequential(*layers, *([nn.AvgPool2d(2, 2)] if pool else []))


@pytest.mark.parametrize("pool", [False, True], ids=["bottleneck", "transition"])
@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last], ids=["nchw", "nhwc"])
def test_bn_relu_conv1x1_is_one_op(pool, batch, layout):
    x = torch.randn(batch, 12, 8, 8).contiguous(memory_format=layout)
    fast = check_same(_preact(12, 20, pool=pool), x)
    preacts = [m for m in fast.modules() if isinstance(m, PreactConv1x1)]
    assert len(preacts) == 1 and preacts[0].pool == (2 if pool else 1)


def test_a_3x3_conv_after_the_relu_is_not_taken():
    fast = check_same(_preact(8, 8, k=3), torch.randn(2, 8, 6, 6))
    assert not any(isinstance(m, PreactConv1x1) for m in fast.modules())
    assert "bn+relu+conv1x1" not in cnnfast.report(fast).fused
