"""optimize() on sites it must not fuse, or must fuse only partly: each is computed exactly as
before and named in the report; hooks are kept and still called."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import cnnfast
from cnnfast.nn import Conv2dBiasAct
from tests.corpus.user_models import UserResidual
from tests._helpers import check_same, MODEL_TOLERANCE, randomize_batchnorm, rel_err


def _fused_convs(model):
    return sum(isinstance(m, Conv2dBiasAct) for m in model.modules())


def test_user_residual_block_is_fully_fused():
    fast = check_same(UserResidual(), torch.randn(2, 8, 10, 10))
    rep = cnnfast.report(fast)
    assert rep.fused["conv+bn"] == 2 and rep.fused["+relu"] == 1 and rep.fused["conv+add+relu"] == 1
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())


class SharedConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)

    def forward(self, x):
        return self.bn(self.conv(x)) + self.conv(x * 2)


class BatchStatsBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4, track_running_stats=False)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class PreActivationReused(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)

    def forward(self, x):
        y = self.bn(self.conv(x))
        return F.relu(y) - y


class ReflectPad(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect"), nn.BatchNorm2d(4)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class DataDependent(nn.Module):
    """FX cannot trace `if` on tensor values; its children can still be optimized."""

    def __init__(self):
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())

    def forward(self, x):
        if x.sum() > 0:
            return self.block(x)
        return -self.block(-x)


class InplaceResidualMutation(nn.Module):
    """identity.add_(conv(x)) mutates identity, which is read again afterwards."""

    def __init__(self):
        super().__init__()
        self.pre, self.conv = nn.Conv2d(4, 4, 1), nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        identity = self.pre(x)
        out = identity.add_(self.conv(x))
        return out * identity


class ScriptedChild(nn.Module):
    def __init__(self):
        super().__init__()
        self.scripted = torch.jit.script(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU()))
        self.conv, self.bn = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)

    def forward(self, x):
        return self.bn(self.conv(self.scripted(x)))


class TrainingModeBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)

    def forward(self, x):
        return self.bn(self.conv(x))


class CircularPad(ReflectPad):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1, padding_mode="circular")


SKIPS = [
    (SharedConv, "called at 2 sites"),
    (BatchStatsBN, "no running stats"),
    (ReflectPad, "padding_mode='reflect'"),
    (CircularPad, "padding_mode='circular'"),
    (DataDependent, "torch.fx cannot trace"),
    (ScriptedChild, "already a TorchScript module"),
]


@pytest.mark.parametrize("cls,reason", SKIPS, ids=[c.__name__ for c, _ in SKIPS])
def test_unsafe_sites_are_skipped_with_a_reason(cls, reason):
    fast = check_same(cls(), torch.randn(2, 4, 7, 7))
    assert any(reason in r for _, r in cnnfast.report(fast).skipped), cnnfast.report(fast)


def test_batchnorm_left_in_training_mode_is_not_folded():
    model = randomize_batchnorm(TrainingModeBN()).eval()
    model.bn.train()
    model.bn.momentum = 0.0  # so the reference run does not move the running stats
    x = torch.randn(3, 4, 7, 7)
    with torch.no_grad():
        ref = model(x)
    fast = cnnfast.optimize(model)
    with torch.no_grad():
        assert rel_err(fast(x), ref) <= MODEL_TOLERANCE
    assert any("training mode" in r for _, r in cnnfast.report(fast).skipped)


def test_preactivation_used_twice_folds_bn_but_keeps_relu():
    fast = check_same(PreActivationReused(), torch.randn(2, 4, 7, 7))
    assert cnnfast.report(fast).fused["conv+bn"] == 1 and "+relu" not in cnnfast.report(fast).fused


def test_untraceable_model_still_fuses_its_children():
    fast = check_same(DataDependent(), torch.randn(2, 4, 7, 7))
    assert _fused_convs(fast) == 1 and cnnfast.report(fast).fused["+relu"] == 1


def test_inplace_add_into_a_reused_tensor_is_not_fused():
    fast = check_same(InplaceResidualMutation(), torch.randn(2, 4, 7, 7))
    assert not any(p.startswith("conv+add") for p in cnnfast.report(fast).fused)


def test_forward_hooks_are_kept():
    model = randomize_batchnorm(UserResidual()).eval()
    calls = []
    model.conv2.register_forward_hook(lambda m, i, o: calls.append(1) or o * 2)
    x = torch.randn(1, 8, 6, 6)
    with torch.no_grad():
        ref = model(x)
        calls.clear()
        fast = cnnfast.optimize(model)
        out = fast(x)
    assert calls and rel_err(out, ref) <= MODEL_TOLERANCE
    assert any("hooks" in r for _, r in cnnfast.report(fast).skipped)


def test_hooks_on_the_model_itself_are_kept():
    model = randomize_batchnorm(UserResidual()).eval()
    model.register_forward_hook(lambda m, i, o: o + 1)
    x = torch.randn(1, 8, 6, 6)
    with torch.no_grad():
        ref = model(x)
        fast = cnnfast.optimize(model)
        assert rel_err(fast(x), ref) <= MODEL_TOLERANCE


def test_batchnorm_in_another_dtype_than_its_conv_is_not_folded():
    # Eager raises on this mix; a fold would silently run it in the conv's dtype instead.
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4).double()).eval()
    fast = cnnfast.optimize(model)
    assert any("torch.float64" in r for _, r in cnnfast.report(fast).skipped)
    with pytest.raises(RuntimeError, match="dtype"):
        fast(torch.randn(1, 3, 8, 8))


def test_module_used_inside_two_parents_is_not_fused():
    shared = nn.Conv2d(4, 4, 3, padding=1)
    model = nn.Sequential(nn.Sequential(shared, nn.BatchNorm2d(4)), nn.Sequential(shared, nn.ReLU()))
    fast = check_same(model, torch.randn(2, 4, 6, 6))
    assert any("called at 2 sites" in r for _, r in cnnfast.report(fast).skipped)


def test_batchnorm_on_another_device_than_its_conv_is_not_folded():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, device="meta")).eval()
    fast = cnnfast.optimize(model)
    assert any("on meta" in r for _, r in cnnfast.report(fast).skipped)


def test_report_is_readable():
    fast = cnnfast.optimize(randomize_batchnorm(SharedConv()).eval())
    text = str(cnnfast.report(fast))
    assert "fused modules" in text and "left unfused" in text and "called at 2 sites" in text
    with pytest.raises(ValueError, match="not returned by cnnfast.optimize"):
        cnnfast.report(SharedConv())
