"""fuse_se_squeeze: a squeeze-and-excitation block reading a fused conv's output gets its squeeze
from that conv (Conv2dBiasActMean, one conv2d_bias_act_mean call on the CPU) instead of reading
the map again, for a depthwise conv; a 1x1 -> depthwise pair before one becomes a
Conv1x1DepthwiseMean. Covers torchvision's SqueezeExcitation after a depthwise conv and after an
inverted residual's pair (MobileNetV3), a conv with a second reader; what keeps its own squeeze
(SE-ResNet's 1x1 conv, RegNet's grouped conv, a pool that is not global); the scripted model,
NCHW, unbatched input, and skipping the pass."""

import pytest
import torch
import torch.nn as nn
import torchvision

import cnnfast
from cnnfast.models import se_resnet
from cnnfast.nn import Conv1x1DepthwiseMean, Conv2dBiasActMean
from cnnfast.testing import randomize_batchnorm
from tests._helpers import check_same


def _taken(fast):
    return [m for m in fast.modules() if isinstance(m, Conv2dBiasActMean)]


def _dw_se(c=72, h=28, k=5, stride=1):
    return nn.Sequential(nn.Conv2d(c, c, k, stride, k // 2, groups=c, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                         torchvision.ops.SqueezeExcitation(c, c // 4, scale_activation=nn.Hardsigmoid))


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("c,h,k,stride", [(72, 28, 5, 1), (120, 14, 3, 2), (33, 9, 3, 1)])
def test_depthwise_then_se(c, h, k, stride, batch):
    fast = check_same(_dw_se(c, h, k, stride), torch.randn(batch, c, h, h))
    assert len(_taken(fast)) == 1
    assert cnnfast.report(fast).fused["conv+squeeze"] == 1


@pytest.mark.parametrize("batch", [1, 2])
def test_dense_and_grouped_convs_keep_their_squeeze(batch):
    # SE-ResNet's 1x1 conv before each SE block and RegNet's grouped conv: measured not to pay in the
    # whole models (fuse_se_squeeze._pays), so their SE blocks squeeze for themselves.
    model = nn.Sequential(se_resnet.SEBottleneck(64, 16, downsample=nn.Sequential(nn.Conv2d(64, 64, 1),
                                                                                   nn.BatchNorm2d(64))),
                          torchvision.models.regnet.ResBottleneckBlock(64, 64, 1, nn.BatchNorm2d, nn.ReLU, 8, 1.0,
                                                                       0.25))
    fast = check_same(model, torch.randn(batch, 64, 14, 14))
    assert not _taken(fast) and "conv+squeeze" not in cnnfast.report(fast).fused


class SecondReader(nn.Module):
    """The depthwise conv's output also feeds a second branch: the same tensor goes to both."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.se = torchvision.ops.SqueezeExcitation(16, 4)

    def forward(self, x):
        y = torch.relu(self.conv(x))
        return self.se(y) + y


def test_a_second_reader_sees_the_same_map():
    fast = check_same(SecondReader(), torch.randn(2, 16, 10, 10))
    assert len(_taken(fast)) == 1


@pytest.mark.parametrize("h", [56, 14])
def test_a_pair_before_se_takes_the_squeeze(h):
    # 1x1 -> depthwise (MobileNetV3's inverted residual) becomes a Conv1x1Depthwise earlier
    # (fuse_conv1x1_depthwise), then its Mean form: fused (56x56) or as two convs (14x14).
    model = nn.Sequential(nn.Conv2d(24, 72, 1), nn.ReLU(), *_dw_se(72, h, 3, 1))
    fast = check_same(model, torch.randn(1, 24, h, h))
    assert any(isinstance(m, Conv1x1DepthwiseMean) for m in fast.modules())
    assert cnnfast.report(fast).fused["conv+squeeze"] == 1


class PooledByHeight(nn.Module):
    """SE whose pool is F.avg_pool2d(x, x.size(2)): a global mean only on square maps."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.fc1, self.fc2 = nn.Conv2d(16, 4, 1), nn.Conv2d(4, 16, 1)

    def forward(self, x):
        y = torch.relu(self.conv(x))
        s = torch.nn.functional.avg_pool2d(y, y.size(2))
        return y * torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))


def test_a_pool_by_height_is_left_alone():
    fast = check_same(PooledByHeight(), torch.randn(2, 16, 10, 10))
    assert not _taken(fast)


def test_scripted_nchw_and_unbatched():
    model = randomize_batchnorm(_dw_se()).eval()
    x = torch.randn(2, 72, 28, 28)
    with torch.no_grad():
        ref = model(x)
        scripted = cnnfast.optimize(model, script=True, example_input=x)
        assert isinstance(scripted, torch.jit.ScriptModule)
        torch.testing.assert_close(scripted(x), ref, rtol=1e-4, atol=1e-4)
        nchw = cnnfast.optimize(model, channels_last=False)
        assert len(_taken(nchw)) == 1
        out = nchw(x)
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
        assert out.is_contiguous()
        torch.testing.assert_close(nchw(x[0]), model(x[:1])[0], rtol=1e-4, atol=1e-4)


def test_the_pass_can_be_skipped():
    model = randomize_batchnorm(_dw_se()).eval()
    fast = cnnfast.optimize(model, skip_passes=["fuse_se_squeeze"])
    assert not _taken(fast) and "conv+squeeze" not in cnnfast.report(fast).fused
