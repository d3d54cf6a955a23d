"""fuse_conv_bn on the spellings of BatchNorm that are not an nn.BatchNorm2d call: F.batch_norm
on a module's buffers (timm's BatchNormAct2d traces to it, behind an `x.ndim == 4` assert and an
Identity), with the activation and the residual add still reaching the conv's epilogue."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import cnnfast
from cnnfast.testing import randomize_batchnorm
from tests._helpers import MODEL_TOLERANCE, rel_err


class FunctionalNormAct(nn.Module):
    """What timm's BatchNormAct2d does: assert the rank, F.batch_norm on its own buffers, a drop
    that is an Identity, then the activation."""

    def __init__(self, c, act=nn.SiLU):
        super().__init__()
        self.bn, self.drop, self.act = nn.BatchNorm2d(c), nn.Identity(), act()

    def forward(self, x):
        torch._assert(x.ndim == 4, "expected 4D input")
        x = F.batch_norm(x, self.bn.running_mean, self.bn.running_var, weight=self.bn.weight, bias=self.bn.bias,
                         training=False, momentum=0.1, eps=self.bn.eps)
        return self.act(self.drop(x))


class Block(nn.Module):
    def __init__(self, c=8):
        super().__init__()
        self.conv1, self.norm1 = nn.Conv2d(c, c, 3, padding=1, bias=False), FunctionalNormAct(c)
        self.conv2, self.norm2 = nn.Conv2d(c, c, 1, bias=False), FunctionalNormAct(c, nn.Identity)

    def forward(self, x):
        return self.norm2(self.conv2(self.norm1(self.conv1(x)))) + x


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("batch", [1, 3])
def test_functional_batchnorm_folds_with_activation_and_residual(batch, channels_last):
    model = randomize_batchnorm(Block()).eval()
    fast = cnnfast.optimize(model, channels_last=channels_last)
    report = cnnfast.report(fast)
    assert sorted(p for _, p in report.final) == ["conv+bn+add", "conv+bn+silu"]
    assert report.coverage == {"Conv2d": (2, 2), "BatchNorm2d": (2, 2)}
    assert "batch_norm" not in fast.code
    x = torch.randn(batch, 8, 7, 7)
    with torch.no_grad():
        assert rel_err(fast(x), model(x)) <= MODEL_TOLERANCE


def test_batchnorm_in_training_mode_is_not_folded():
    class Training(FunctionalNormAct):
        def forward(self, x):
            return F.batch_norm(x, self.bn.running_mean, self.bn.running_var, training=True)

    model = nn.Sequential(nn.Conv2d(3, 4, 3), Training(4)).eval()
    report = cnnfast.report(cnnfast.optimize(model))
    assert [p for _, p in report.final] == ["conv"]


def test_timm_batchnorm_act_folds():
    timm_layers = pytest.importorskip("timm.layers")
    model = randomize_batchnorm(nn.Sequential(
        nn.Conv2d(3, 8, 3, bias=False), timm_layers.BatchNormAct2d(8, act_layer=nn.SiLU))).eval()
    fast = cnnfast.optimize(model)
    assert [p for _, p in cnnfast.report(fast).final] == ["conv+bn+silu"]
    x = torch.randn(2, 3, 9, 9)
    with torch.no_grad():
        assert rel_err(fast(x), model(x)) <= MODEL_TOLERANCE
