"""optimize() on small networks: LeNet-5 (both variants) and user-written LeNet-like models become
one SmallCNN; anything that is not one chain of convs, 2-D pools, a flatten and linear layers, or
is too big, keeps its per-layer modules."""

import copy
import io
import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import cnnfast
from cnnfast import models
from cnnfast.nn import SmallCNN
from cnnfast.passes import fuse_small_cnn
from tests._helpers import MODEL_TOLERANCE, rel_err
from tests._helpers import check_same as _run

KEY = "small_cnn (whole network in one call)"


@pytest.mark.parametrize("name", ["lenet5", "lenet5_modern"])
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_lenet_becomes_one_call(name, layout):
    model = models.get(name).build().eval()
    for batch in (1, 2, 9):
        x = torch.randn(batch, 1, 32, 32)
        if layout == "channels_last":
            x = x.contiguous(memory_format=torch.channels_last)
        fast = _run(model, x)
    assert isinstance(fast, SmallCNN) and not fast.training  # the whole graph was one call
    assert cnnfast.report(fast).fused[KEY] == 1


class UserNet(nn.Module):
    """A LeNet-like net written with functional calls, padding, a 3x3 max pool and torch.flatten."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 20, 3, stride=2)
        self.fc1 = nn.Linear(20 * 2 * 2, 30)
        self.fc2 = nn.Linear(30, 5)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.c1(x))), 3)
        x = F.avg_pool2d(torch.sigmoid(self.c2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc2(F.silu(self.fc1(x)))


def test_user_written_net_becomes_one_call():
    fast = _run(UserNet(), torch.randn(3, 3, 28, 28))
    assert cnnfast.report(fast).fused[KEY] == 1 and isinstance(fast, SmallCNN)


class TwoHeads(UserNet):
    def forward(self, x):
        x = F.relu(self.c1(x))
        return x.mean(), torch.flatten(x, 1)


class OverlappingPool(UserNet):
    def forward(self, x):
        x = self.c2(F.relu(self.c1(x)))
        return self.fc1(torch.flatten(F.max_pool2d(x, 2, 1), 1))  # stride 1: windows overlap


class Residual(UserNet):
    def forward(self, x):
        y = F.relu(self.c1(x))
        return self.fc1(torch.flatten(self.c2(y + 1), 1))


class Grouped(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(4, 8, 3, groups=2)
        self.fc = nn.Linear(8 * 6 * 6, 3)

    def forward(self, x):
        return self.fc(torch.flatten(F.relu(self.c(x)), 1))


@pytest.mark.parametrize("cls,shape", [(TwoHeads, (2, 3, 16, 16)), (OverlappingPool, (2, 3, 7, 7)),
                                       (Grouped, (2, 4, 8, 8))], ids=["two-outputs", "overlapping-pool", "grouped"])
def test_what_is_not_a_plain_chain_stays_per_layer(cls, shape):
    model = cls()
    fast = _run(model, torch.randn(*shape)) if cls is not TwoHeads else cnnfast.optimize(model.eval())
    assert KEY not in cnnfast.report(fast).fused
    assert not any(isinstance(m, SmallCNN) for m in fast.modules())


def test_residual_stays_per_layer():
    fast = cnnfast.optimize(Residual().eval())
    assert KEY not in cnnfast.report(fast).fused


def test_big_networks_keep_their_per_layer_ops(monkeypatch):
    monkeypatch.setattr(fuse_small_cnn, "MAX_PARAMS", 1000)
    fast = _run(models.get("lenet5").build().eval(), torch.randn(2, 1, 32, 32))
    assert KEY not in cnnfast.report(fast).fused


def test_input_untouched_and_copies_independent():
    model = models.get("lenet5").build().eval()
    before = copy.deepcopy(model.state_dict())
    fast = cnnfast.optimize(model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    x = torch.randn(2, 1, 32, 32)
    twin = copy.deepcopy(fast)
    with torch.no_grad():
        twin.weights[0].mul_(2.0)  # the copy's weights are its own, and its op sees the change
        assert not torch.allclose(twin(x), fast(x))
        assert rel_err(fast(x), model(x)) <= MODEL_TOLERANCE


def test_dtype_change_and_state_dict_round_trip():
    model = models.get("lenet5_modern").build().eval()
    fast = cnnfast.optimize(model)
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        out64 = fast.double()(x.double())  # .double() replaces the parameters: the cached lists follow
        assert out64.dtype == torch.float64 and rel_err(out64, model.double()(x.double())) <= 1e-10
    again = cnnfast.optimize(models.get("lenet5_modern").build().eval()).double()
    again.load_state_dict(fast.state_dict())
    with torch.no_grad():
        assert torch.equal(again(x.double()), out64)


def test_torchscript_compile_and_export():
    model = models.get("lenet5").build().eval()
    fast = cnnfast.optimize(model)
    x = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        ref = model(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scripted = torch.jit.freeze(torch.jit.script(fast))
        buf = io.BytesIO()
        torch.jit.save(scripted, buf)
        buf.seek(0)
        assert rel_err(torch.jit.load(buf)(x), ref) <= MODEL_TOLERANCE
        assert rel_err(torch.compile(fast, backend="eager", fullgraph=True)(x), ref) <= MODEL_TOLERANCE
    batch = torch.export.Dim("batch", min=1, max=64)
    ep = torch.export.export(fast, (x,), dynamic_shapes=({0: batch},))
    with torch.no_grad():
        x5 = torch.randn(5, 1, 32, 32)  # another batch size than the one exported with
        assert rel_err(ep.module()(x5), model(x5)) <= MODEL_TOLERANCE
