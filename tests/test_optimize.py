"""optimize(): what it fuses in user-written models, what it must skip, and its contract."""

import copy

import pytest
import torch
import torch.nn as nn

import cnnfast
from cnnfast.nn import Conv2dBiasAct
from tests.corpus.user_models import UserResidual
from tests._helpers import check_same, MODEL_TOLERANCE, randomize_batchnorm, rel_err


def _fused_convs(model):
    return sum(isinstance(m, Conv2dBiasAct) for m in model.modules())


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


def test_example_input_prepacks_at_optimize_time():
    model = randomize_batchnorm(UserResidual()).eval()
    x = torch.randn(2, 8, 9, 9)
    fast = cnnfast.optimize(model, example_input=x)
    with torch.no_grad():
        assert rel_err(fast(x), model(x)) <= MODEL_TOLERANCE
    assert cnnfast.report(fast).seconds > 0


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
