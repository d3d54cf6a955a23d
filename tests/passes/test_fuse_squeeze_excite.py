"""optimize() on squeeze-and-excitation blocks written the ways users write them: what fuses, what
must not, in-place safety, and the result against eager."""

import io

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import cnnfast
from cnnfast.nn import SqueezeExciteScale
from tests._helpers import MODEL_TOLERANCE, randomize_batchnorm, rel_err


class ClassicSE(nn.Module):
    """Hu et al.'s reference code: AdaptiveAvgPool -> view -> Linear/ReLU/Linear/Sigmoid -> expand_as."""

    def __init__(self, c, r=4):
        super().__init__()
        self.avg = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Linear(c, c // r, bias=False), nn.ReLU(inplace=True),
                                nn.Linear(c // r, c, bias=False), nn.Sigmoid())

    def forward(self, x):
        b, c, _, _ = x.size()
        y = self.avg(x).view(b, c)
        y = self.fc(y).view(b, c, 1, 1)
        return x * y.expand_as(x)


class SEResBlock(nn.Module):
    """conv-bn-relu, conv-bn, SE, + identity, ReLU: an SE-ResNet basic block written by hand."""

    def __init__(self, c=32, se=ClassicSE):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.se = se(c)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.se(self.bn2(self.conv2(y)))
        y += x
        return F.relu(y)


class FunctionalSE(nn.Module):
    """1x1 convs, F.adaptive_avg_pool2d, F.silu, hard-sigmoid gate, gate on the left of the product."""

    def __init__(self, c=24, hidden=6):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.reduce, self.expand = nn.Conv2d(c, hidden, 1), nn.Conv2d(hidden, c, 1)

    def forward(self, x):
        x = self.conv(x)
        s = F.adaptive_avg_pool2d(x, 1)
        s = F.hardsigmoid(self.expand(F.silu(self.reduce(s))))
        return s * x


class MeanIndexSE(nn.Module):
    """x.mean([-1, -2]) -> Linear -> ReLU -> Linear -> sigmoid -> [:, :, None, None]."""

    def __init__(self, c=16):
        super().__init__()
        self.conv = nn.Conv2d(3, c, 3, padding=1)
        self.fc1, self.fc2 = nn.Linear(c, 4), nn.Linear(4, c)

    def forward(self, x):
        x = self.conv(x)
        g = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean([-1, -2])))))
        return x * g[:, :, None, None]


def _optimize(model, x, **kwargs):
    model = randomize_batchnorm(model).eval()
    with torch.no_grad():
        ref = model(x.clone())
    fast = cnnfast.optimize(model, **kwargs)
    with torch.no_grad():
        out = fast(x)
    assert rel_err(out, ref) <= MODEL_TOLERANCE
    return fast


def _se_modules(model):
    return [m for m in model.modules() if isinstance(m, SqueezeExciteScale)]


@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("batch", [1, 3])
def test_classic_se_resnet_block_fuses_with_add_and_relu(batch, channels_last):
    fast = _optimize(SEResBlock(), torch.randn(batch, 32, 10, 9), channels_last=channels_last)
    (se,) = _se_modules(fast)
    assert se.act == "relu" and se.inplace  # x is a fresh conv output read by the SE alone
    assert cnnfast.report(fast).fused["squeeze-excite+add+relu"] == 1


@pytest.mark.parametrize("model,x,pattern", [
    (FunctionalSE(), torch.randn(2, 24, 7, 7), "squeeze-excite"),
    (MeanIndexSE(), torch.randn(1, 3, 12, 12), "squeeze-excite"),
], ids=["functional-convs-hardsigmoid", "mean-linear-index"])
def test_user_written_se_blocks_fuse(model, x, pattern):
    fast = _optimize(model, x)
    assert len(_se_modules(fast)) == 1
    assert cnnfast.report(fast).fused[pattern] == 1
    acts = (_se_modules(fast)[0].act1, _se_modules(fast)[0].act2)
    assert acts == (("silu", "hardsigmoid") if isinstance(model, FunctionalSE) else ("relu", "sigmoid"))


class SEOnInput(nn.Module):
    def __init__(self):
        super().__init__()
        self.se = ClassicSE(8)

    def forward(self, x):
        return self.se(x)


def test_se_on_the_model_input_never_writes_over_it():
    x = torch.randn(2, 8, 5, 5)
    before = x.clone()
    fast = _optimize(SEOnInput(), x)
    (se,) = _se_modules(fast)
    assert not se.inplace and torch.equal(x, before)


class SEInputReadLater(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 1)
        self.se = ClassicSE(8)

    def forward(self, x):
        y = self.conv(x)
        return self.se(y) + 2 * y  # y is read again after the SE


def test_se_input_read_again_is_not_written_over():
    fast = _optimize(SEInputReadLater(), torch.randn(2, 8, 5, 5))
    (se,) = _se_modules(fast)
    assert not se.inplace


class BroadcastResidual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 1)
        self.se = ClassicSE(8)
        self.shift = nn.Parameter(torch.randn(8, 1, 1))

    def forward(self, x):
        return F.relu(self.se(self.conv(x)) + self.shift)  # a broadcasting add, not a residual


def test_broadcasting_add_keeps_eager_semantics():
    _optimize(BroadcastResidual(), torch.randn(2, 8, 5, 5))


class GateUsedTwice(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(8, 2), nn.Linear(2, 8)

    def forward(self, x):
        g = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean((2, 3))))))[:, :, None, None]
        return x * g, g


class PoolOverOtherDims(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(5, 2), nn.Linear(2, 5)

    def forward(self, x):  # mean over (C, H): not a squeeze of channels
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean((1, 2))))))[:, None, None, :]


@pytest.mark.parametrize("model", [GateUsedTwice(), PoolOverOtherDims()], ids=["gate-used-twice", "other-dims"])
def test_lookalikes_are_left_alone(model):
    x = torch.randn(2, 8, 6, 5)
    model.eval()
    with torch.no_grad():
        ref = model(x)
    fast = cnnfast.optimize(model)
    assert not _se_modules(fast)
    with torch.no_grad():
        out = fast(x)
    for a, b in zip(out if isinstance(out, tuple) else (out,), ref if isinstance(ref, tuple) else (ref,)):
        torch.testing.assert_close(a, b)


def test_fused_se_round_trips_through_torchscript():
    x = torch.randn(2, 32, 8, 8)
    fast = _optimize(SEResBlock(), x)
    scripted = torch.jit.script(fast)
    buf = io.BytesIO()
    torch.jit.save(scripted, buf)
    buf.seek(0)
    loaded = torch.jit.load(buf)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), fast(x))


def test_optimize_twice_is_a_no_op():
    fast = _optimize(SEResBlock(), torch.randn(1, 32, 6, 6))
    again = cnnfast.optimize(fast)
    assert sum(cnnfast.report(again).fused.values()) == 0


class PoolBySizeSE(nn.Module):
    """SE as many ports write it: a conv, F.avg_pool2d over the map by its size, 1x1 convs."""

    def __init__(self, c=16, by_height=True):
        super().__init__()
        self.conv, self.by_height = nn.Conv2d(c, c, 3, padding=1), by_height
        self.fc1, self.fc2 = nn.Conv2d(c, c // 4, 1), nn.Conv2d(c // 4, c, 1)

    def forward(self, x):
        out = self.conv(x)
        w = F.avg_pool2d(out, out.size(2) if self.by_height else out.size()[2:])
        return F.relu(out * torch.sigmoid(self.fc2(F.relu(self.fc1(w)))) + x)


@pytest.mark.parametrize("by_height", [True, False])
@pytest.mark.parametrize("shape", [(2, 16, 8, 8), (1, 16, 8, 12), (2, 16, 9, 13)])
def test_se_pooled_by_size_fuses_and_keeps_non_square_maps_exact(by_height, shape):
    model = PoolBySizeSE(by_height=by_height).eval()
    fast = cnnfast.optimize(model)
    se = [m for m in fast.modules() if isinstance(m, SqueezeExciteScale)]
    assert len(se) == 1 and se[0].pool_by_height == by_height
    x = torch.randn(shape)
    with torch.no_grad():
        # by the height on an 8 x 12 map: eager pools the left 8 x 8 window, and so must the block
        assert rel_err(fast(x), model(x)) <= MODEL_TOLERANCE
        scripted = torch.jit.script(fast)
        assert rel_err(scripted(x), model(x)) <= MODEL_TOLERANCE
