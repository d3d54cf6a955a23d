"""optimize(): what it fuses in user-written models, what it must skip, and its contract."""

import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import cnnfast
from cnnfast.nn import Conv2dBiasAct
from tests._helpers import check_same, MODEL_TOLERANCE, randomize_batchnorm, rel_err


def _fused_convs(model):
    return sum(isinstance(m, Conv2dBiasAct) for m in model.modules())


class UserResidual(nn.Module):
    """A ResNet-style block written by hand with F.relu and +."""

    def __init__(self, c=8):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + x)


def test_user_residual_block_is_fully_fused():
    fast = check_same(UserResidual(), torch.randn(2, 8, 10, 10))
    rep = cnnfast.report(fast)
    assert rep.fused["conv+bn"] == 2 and rep.fused["+relu"] == 1 and rep.fused["conv+add+relu"] == 1
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())


def test_refuses_training_mode_and_non_modules():
    with pytest.raises(ValueError, match="eval mode"):
        cnnfast.optimize(UserResidual().train())
    with pytest.raises(TypeError, match="torch.nn.Module"):
        cnnfast.optimize(lambda x: x)


def test_input_model_is_never_mutated():
    model = randomize_batchnorm(UserResidual()).eval()
    before = copy.deepcopy(model.state_dict())
    types = [type(m) for m in model.modules()]
    cnnfast.optimize(model)
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert [type(m) for m in model.modules()] == types
    assert all(p.requires_grad for p in model.parameters())


def test_optimize_twice_is_a_no_op():
    x = torch.randn(1, 8, 9, 9)
    once = check_same(UserResidual(), x)
    twice = cnnfast.optimize(once)
    assert sum(cnnfast.report(twice).fused.values()) == 0
    with torch.no_grad():
        torch.testing.assert_close(twice(x), once(x), rtol=0, atol=0)


def test_works_without_no_grad():
    model = randomize_batchnorm(UserResidual()).eval()
    fast = cnnfast.optimize(model)
    x = torch.randn(1, 8, 6, 6)
    assert rel_err(fast(x), model(x).detach()) <= MODEL_TOLERANCE


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


class LeNetView(nn.Module):
    """LeNet-5 as often written, with x.view(-1, 400): must survive channels_last convs."""

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


class Mixed(nn.Module):
    """BN without affine, conv without bias, odd eps, 'same' padding, ReLU6 as Hardtanh, SiLU."""

    def __init__(self):
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(3, 6, 3, padding="same", bias=False),
                               nn.BatchNorm2d(6, affine=False, eps=0.3), nn.Hardtanh(0.0, 6.0))
        self.b = nn.Sequential(nn.Conv2d(6, 6, 5, stride=2, padding=2, groups=6),
                               nn.BatchNorm2d(6, eps=1e-3), nn.SiLU())
        self.c = nn.Conv2d(6, 4, 1)

    def forward(self, x):
        return torch.sigmoid(self.c(self.b(self.a(x))))


@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_mixed_patterns(channels_last, layout):
    x = torch.randn(2, 3, 11, 11)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    model = randomize_batchnorm(Mixed()).eval()
    with torch.no_grad():
        ref = model(x)
        fast = cnnfast.optimize(model, channels_last=channels_last)
        assert rel_err(fast(x), ref) <= MODEL_TOLERANCE
    rep = cnnfast.report(fast)
    assert rep.fused["conv+bn"] == 2 and rep.fused["+relu6"] == 1 and rep.fused["+silu"] == 1
    assert rep.fused["+sigmoid"] == 1


def test_float64_model():
    model = randomize_batchnorm(UserResidual()).double().eval()
    x = torch.randn(2, 8, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        ref = model(x)
        assert rel_err(cnnfast.optimize(model)(x), ref) <= 1e-10


def test_unbatched_input():
    # Conv2d accepts (C, H, W); BatchNorm2d does not, so this model has none.
    model = nn.Sequential(nn.Conv2d(3, 6, 3), nn.ReLU(), nn.Conv2d(6, 2, 1)).eval()
    x = torch.randn(3, 9, 9)
    with torch.no_grad():
        assert rel_err(cnnfast.optimize(model)(x), model(x)) <= MODEL_TOLERANCE


def test_report_is_readable():
    fast = cnnfast.optimize(randomize_batchnorm(SharedConv()).eval())
    text = str(cnnfast.report(fast))
    assert "fused modules" in text and "left unfused" in text and "called at 2 sites" in text
    with pytest.raises(ValueError, match="not returned by cnnfast.optimize"):
        cnnfast.report(SharedConv())


def test_example_input_prepacks_at_optimize_time():
    model = randomize_batchnorm(UserResidual()).eval()
    x = torch.randn(2, 8, 9, 9)
    fast = cnnfast.optimize(model, example_input=x)
    with torch.no_grad():
        assert rel_err(fast(x), model(x)) <= MODEL_TOLERANCE
    assert cnnfast.report(fast).seconds > 0


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


def test_script_true_returns_a_frozen_torchscript_module(tmp_path):
    model = randomize_batchnorm(UserResidual()).eval()
    x = torch.randn(2, 8, 9, 9)
    fast = cnnfast.optimize(model, script=True, example_input=x, check=True)
    assert isinstance(fast, torch.jit.ScriptModule)
    assert cnnfast.report(fast).fused["conv+add+relu"] == 1 and cnnfast.report(fast).check.ok
    fast.save(str(tmp_path / "m.pt"))
    with torch.no_grad():
        assert rel_err(torch.jit.load(str(tmp_path / "m.pt"))(x), model(x)) <= MODEL_TOLERANCE


def test_script_true_falls_back_to_eager_when_torchscript_fails():
    class Unscriptable(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.act = nn.Conv2d(3, 3, 1), nn.ReLU()
            self.act.register_forward_hook(lambda m, i, o: o * 2)  # a Python hook: not scriptable

        def forward(self, x):
            return self.act(self.conv(x))

    model, x = Unscriptable().eval(), torch.randn(1, 3, 5, 5)
    fast = cnnfast.optimize(model, script=True)
    assert not isinstance(fast, torch.jit.ScriptModule)
    with torch.no_grad():
        assert rel_err(fast(x), model(x)) <= MODEL_TOLERANCE
    assert any("TorchScript could not compile" in n for n in cnnfast.report(fast).notes)
