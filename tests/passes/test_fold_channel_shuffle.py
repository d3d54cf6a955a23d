"""optimize() on channel shuffles: ShuffleNet V2 (torchvision) and hand-written shuffles lose their
cat/transpose/contiguous/chunk copies to one shuffle_channels call per block, with the order folded
into the next convs' weights; results match eager in both layouts, through TorchScript, and
wherever a reader cannot absorb the order (it gets the logical tensor back)."""

import pytest
import torch
import torch.fx as fx
import torch.nn as nn
import torchvision

import cnnfast
from cnnfast.nn import ShuffleChannels
from cnnfast.passes import fold_channel_shuffle
from cnnfast.report import Report
from cnnfast.testing import randomize_batchnorm
from tests._helpers import MODEL_TOLERANCE, rel_err

SITE = "channel shuffle folded (cat + shuffle + chunk in one pass)"
FOLDED = "shuffle order folded into conv weights"
RESTORED = "shuffled tensor restored for a reader"


def _check(model, x, channels_last=True, script=False):
    model = randomize_batchnorm(model).eval()
    with torch.no_grad():
        ref = model(x)
    fast = cnnfast.optimize(model, channels_last=channels_last, script=script)
    with torch.no_grad():
        out = fast(x)
    assert out.shape == ref.shape
    assert rel_err(out, ref) <= MODEL_TOLERANCE
    return fast


def _code(fast):
    return fast.code if hasattr(fast, "code") else ""


@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("batch", [1, 3])
def test_shufflenet_v2(batch, channels_last):
    torch.manual_seed(0)
    fast = _check(torchvision.models.shufflenet_v2_x0_5(), torch.randn(batch, 3, 96, 96), channels_last)
    fused = cnnfast.report(fast).fused
    # 16 blocks; 13 stride-1 blocks' branch convs read their half through the folded order, each
    # stage transition folds it into a depthwise conv, the 1x1 after it and the other branch's 1x1,
    # and conv5 takes the last block's.
    assert fused[SITE] == 16
    assert fused[FOLDED] == 13 + 2 * 3 + 1
    assert RESTORED not in fused
    code = _code(fast)
    assert "torch.cat" not in code and "transpose" not in code and "chunk" not in code and "contiguous" not in code


def test_shufflenet_v2_scripted():
    torch.manual_seed(1)
    _check(torchvision.models.shufflenet_v2_x0_5(), torch.randn(2, 3, 64, 64), script=True)


def _cbr(c_in, c_out, k=1, groups=1, act=True):
    layers = [nn.Conv2d(c_in, c_out, k, padding=k // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, nn.ReLU()) if act else nn.Sequential(*layers)


class Shuffle3(nn.Module):
    """ShuffleNet V1 style: three group outputs, shuffled with permute + reshape, read by a
    depthwise conv and then a 1x1 conv."""

    def __init__(self, c=6):
        super().__init__()
        self.a, self.b, self.c = _cbr(4, c), _cbr(4, c), _cbr(4, c)
        self.dw = _cbr(3 * c, 3 * c, 3, groups=3 * c, act=False)
        self.pw = _cbr(3 * c, 5)

    def forward(self, x):
        y = torch.cat([self.a(x), self.b(x), self.c(x)], 1)
        n, c, h, w = y.size()
        y = y.reshape(n, 3, c // 3, h, w).permute(0, 2, 1, 3, 4).reshape(n, c, h, w)
        return self.pw(self.dw(y))


@pytest.mark.parametrize("channels_last", [True, False])
def test_three_groups_permute_spelling(channels_last):
    fast = _check(Shuffle3(), torch.randn(2, 4, 7, 9), channels_last)
    fused = cnnfast.report(fast).fused
    assert fused[SITE] == 1 and fused[FOLDED] == 2 and RESTORED not in fused


class ReadersThatCannotFold(nn.Module):
    """The shuffled halves also go to the output, to a max pool, and to a conv with a residual:
    those readers must see the logical channel order."""

    def __init__(self, c=8):
        super().__init__()
        self.left, self.right = _cbr(3, c // 2), _cbr(3, c // 2)
        self.conv = _cbr(c // 2, c // 2)

    def forward(self, x):
        y = torch.cat([self.left(x), self.right(x)], 1)
        n, c, h, w = y.size()
        y = torch.transpose(y.view(n, 2, c // 2, h, w), 1, 2).contiguous().view(n, c, h, w)
        a, b = y.chunk(2, dim=1)
        return a, torch.max_pool2d(b, 2), self.conv(b) + b


@pytest.mark.parametrize("channels_last", [True, False])
def test_readers_that_cannot_fold_get_the_logical_order(channels_last):
    model = randomize_batchnorm(ReadersThatCannotFold()).eval()
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        refs = model(x)
    fast = cnnfast.optimize(model, channels_last=channels_last)
    with torch.no_grad():
        outs = fast(x)
    for out, ref in zip(outs, refs):
        assert rel_err(out, ref) <= MODEL_TOLERANCE
    fused = cnnfast.report(fast).fused
    assert fused[SITE] == 1 and fused[RESTORED] == 2  # one copy back per half, shared by its readers


class NotAShuffle(nn.Module):
    """view(n, 2, c // 2, h, w) then transpose(2, 3): not a channel shuffle; left as it is."""

    def forward(self, x):
        y = torch.cat([x, x * 2], 1)
        n, c, h, w = y.size()
        return y.view(n, 2, c // 2, h, w).transpose(2, 3).reshape(n, c, w, h)


def test_look_alike_is_left_alone():
    model = nn.Sequential(nn.Conv2d(3, 4, 1), NotAShuffle()).eval()
    x = torch.randn(1, 3, 5, 6)
    fast = cnnfast.optimize(model)
    with torch.no_grad():
        assert torch.allclose(fast(x), model(x), atol=1e-6)
    assert SITE not in cnnfast.report(fast).fused


def test_input_model_is_not_modified():
    torch.manual_seed(2)
    model = randomize_batchnorm(torchvision.models.shufflenet_v2_x0_5()).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cnnfast.optimize(model)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_index_lives_on_the_models_device():
    # The shuffle's index buffer is made by the pass; on a CUDA model it must be on the GPU with the
    # maps it reorders (it stayed on the CPU and the H200 check failed). "meta" stands in for a
    # second device here: the pass reads shapes only.
    gm = fx.symbolic_trace(torchvision.models.shufflenet_v2_x0_5().eval().to("meta"))
    fold_channel_shuffle.run(gm, Report(), "")
    shuffles = [m for m in gm.modules() if isinstance(m, ShuffleChannels)]
    assert shuffles and {m.index.device.type for m in shuffles} == {"meta"}
