"""fuse_conv1x1_depthwise: a 1x1 conv whose only reader is a depthwise conv becomes one
Conv1x1Depthwise (one conv1x1_depthwise call on the CPU), with each conv's BN and activation; the
pair is left apart when the 1x1 conv's output has another reader, or either conv a residual. The
result matches eager on maps the fused kernel takes and on those it does not, scripts, and the pass
can be skipped."""

import pytest
import torch
import torch.nn as nn

import cnnfast
from cnnfast.nn import Conv1x1Depthwise, Conv2dBiasAct
from tests._helpers import check_same


def _block(cin, c, k, stride, act1=nn.ReLU, act2=nn.Hardswish):
    return nn.Sequential(nn.Conv2d(cin, c, 1, bias=False), nn.BatchNorm2d(c), act1(),
                         nn.Conv2d(c, c, k, stride, k // 2, groups=c, bias=False), nn.BatchNorm2d(c), act2())


def _fused(fast):
    return [m for m in fast.modules() if isinstance(m, Conv1x1Depthwise)]


# (C_in, C_mid, k, stride, H): a pair on a 56x56 map (fused kernel) and on 14x14 (two calls).
@pytest.mark.parametrize("cin,c,k,stride,h", [(24, 72, 3, 1, 56), (16, 40, 5, 2, 64), (80, 200, 3, 1, 14)])
@pytest.mark.parametrize("batch", [1, 3])
def test_pair_becomes_one_module_and_matches_eager(cin, c, k, stride, h, batch):
    fast = check_same(_block(cin, c, k, stride), torch.randn(batch, cin, h, h))
    (m,) = _fused(fast)
    assert (m.act1, m.act2, m.stride) == ("relu", "hardswish", [stride, stride])
    assert cnnfast.report(fast).fused["conv1x1+depthwise"] == 1


class SecondReader(nn.Module):
    """The 1x1 conv's output also feeds a residual add: it must be written, so no fusion."""

    def __init__(self):
        super().__init__()
        self.pw, self.dw = nn.Conv2d(8, 16, 1), nn.Conv2d(16, 16, 3, padding=1, groups=16)

    def forward(self, x):
        y = self.pw(x)
        return self.dw(y) + y


class Residual(nn.Module):
    """The depthwise conv takes a residual (fuse_residual_add): the pair stays two convs."""

    def __init__(self):
        super().__init__()
        self.pw, self.dw = nn.Conv2d(16, 16, 1), nn.Conv2d(16, 16, 3, padding=1, groups=16)

    def forward(self, x):
        return torch.relu(self.dw(self.pw(x)) + x)


class Grouped(nn.Module):
    """A 1x1 conv feeding a grouped (not depthwise) 3x3: not this pass's pattern."""

    def __init__(self):
        super().__init__()
        self.pw, self.gc = nn.Conv2d(8, 16, 1), nn.Conv2d(16, 16, 3, padding=1, groups=4)

    def forward(self, x):
        return self.gc(self.pw(x))


@pytest.mark.parametrize("model", [SecondReader, Residual, Grouped])
def test_other_patterns_stay_apart(model):
    c = 8 if model is not Residual else 16
    fast = check_same(model(), torch.randn(2, c, 56, 56))
    assert not _fused(fast) and "conv1x1+depthwise" not in cnnfast.report(fast).fused
    assert len([m for m in fast.modules() if isinstance(m, Conv2dBiasAct)]) == 2


def test_scripted_result_matches():
    model = cnnfast.testing.randomize_batchnorm(_block(24, 72, 3, 1)).eval()
    x = torch.randn(1, 24, 56, 56)
    fast = cnnfast.optimize(model, script=True, example_input=x)
    assert isinstance(fast, torch.jit.ScriptModule)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), model(x), rtol=1e-4, atol=1e-4)


def test_nchw_result_matches():
    model = cnnfast.testing.randomize_batchnorm(_block(24, 72, 5, 2)).eval()
    x = torch.randn(2, 24, 56, 56)
    fast = cnnfast.optimize(model, channels_last=False)
    assert len(_fused(fast)) == 1
    with torch.no_grad():
        out = fast(x)
        torch.testing.assert_close(out, model(x), rtol=1e-4, atol=1e-4)
    assert out.is_contiguous()


def test_the_pass_can_be_skipped():
    model = cnnfast.testing.randomize_batchnorm(_block(24, 72, 3, 1)).eval()
    fast = cnnfast.optimize(model, skip_passes=["fuse_conv1x1_depthwise"])
    assert not _fused(fast)
    assert len([m for m in fast.modules() if isinstance(m, Conv2dBiasAct)]) == 2
