"""optimize()'s second capture route (cnnfast.capture): models torch.fx cannot trace symbolically
are captured on the example input, guarded, and never run a graph made for another shape."""

import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import cnnfast
from cnnfast.capture import ShapeGuard
from cnnfast.testing import randomize_batchnorm
from tests.corpus.user_models import ShuffleUnit  # split by int(size * ratio), shuffle by x.size()
from tests._helpers import MODEL_TOLERANCE, inner, rel_err


def _cbr(c_in, c_out, k=1, groups=1, act=True):
    layers = [nn.Conv2d(c_in, c_out, k, padding=k // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, nn.ReLU()) if act else nn.Sequential(*layers)


class Net(nn.Module):
    def __init__(self, block=lambda: ShuffleUnit(16)):
        super().__init__()
        self.stem = _cbr(3, 16, 3)
        self.blocks = nn.Sequential(block(), block())
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        x = F.avg_pool2d(x, x.size(2))
        return self.fc(x.view(x.size(0), -1))


class BranchOnBatch(Net):
    def forward(self, x):
        y = super().forward(x)
        return y * 2 if x.size(0) > 1 else y  # a graph that depends on the batch size


class BranchOnValues(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = _cbr(3, 8, 3), _cbr(3, 8, 3)

    def forward(self, x):
        return self.a(x) if x.mean() > 0 else self.b(x)


def _model(cls=Net):
    return randomize_batchnorm(cls()).eval()


@pytest.mark.parametrize("channels_last", [False, True])
def test_size_arithmetic_is_captured_with_shapes(channels_last):
    model = _model()
    x = torch.randn(2, 3, 12, 12)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    fast = cnnfast.optimize(model, example_input=x)
    report = cnnfast.report(fast)
    assert isinstance(inner(fast), ShapeGuard) and report.captures == [("<model>", "shapes")]
    assert not any(isinstance(m, nn.Conv2d) for m in fast.captured.modules())  # every conv fused
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback for any batch size: the batch stayed symbolic
        for batch in (1, 2, 5):
            xb = torch.randn(batch, 3, 12, 12)
            assert rel_err(fast(xb), model(xb)) <= MODEL_TOLERANCE


def test_another_spatial_size_runs_the_original_and_warns():
    model = _model()
    fast = cnnfast.optimize(model, example_input=torch.randn(2, 3, 12, 12))
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad(), pytest.warns(UserWarning, match=r"optimized for inputs \['\(N, 3, 12, 12\)'\]"):
        out = fast(x)
    assert rel_err(out, model(x)) <= MODEL_TOLERANCE


def test_a_branch_on_the_batch_size_guards_the_batch():
    model = _model(BranchOnBatch)
    fast = cnnfast.optimize(model, example_input=torch.randn(2, 3, 12, 12))
    assert fast.spec[0][0] == (2, 3, 12, 12)
    with torch.no_grad():
        for batch in (1, 2, 3):
            x = torch.randn(batch, 3, 12, 12)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                assert rel_err(fast(x), model(x)) <= MODEL_TOLERANCE


def test_without_example_input_the_children_are_optimized_and_the_report_says_so():
    model = _model()
    fast = cnnfast.optimize(model)
    skipped = dict(cnnfast.report(fast).skipped)
    assert "pass example_input=" in skipped["<model>"]
    x = torch.randn(2, 3, 12, 12)
    with torch.no_grad():
        assert rel_err(fast(x), model(x)) <= MODEL_TOLERANCE


def test_a_branch_on_values_is_not_captured():
    model = _model(BranchOnValues)
    fast = cnnfast.optimize(model, example_input=torch.randn(1, 3, 8, 8))
    assert "neither route captures it" in dict(cnnfast.report(fast).skipped)["<model>"]
    with torch.no_grad():
        for sign in (1, -1):
            x = torch.randn(2, 3, 8, 8).abs() * sign
            assert rel_err(fast(x), model(x)) <= MODEL_TOLERANCE


def test_children_of_an_uncapturable_model_use_their_own_examples():
    class Outer(nn.Module):  # its own branch on values defeats both routes; its child is ShuffleNet-like
        def __init__(self):
            super().__init__()
            self.net = _model()

        def forward(self, x):
            y = self.net(x)
            return y if y.mean() > 0 else -y

    model = Outer().eval()
    fast = cnnfast.optimize(model, example_input=torch.randn(2, 3, 12, 12))
    assert ("net", "shapes") in cnnfast.report(fast).captures
    x = torch.randn(3, 3, 12, 12)
    with torch.no_grad():
        assert rel_err(fast(x), model(x)) <= MODEL_TOLERANCE
