"""cnnfast.verify and optimize(check=True): they report the distance and refuse a bad result."""

import copy
import importlib

import pytest
import torch
import torch.nn as nn

import cnnfast
from cnnfast.testing import randomize_batchnorm

verify_module = importlib.import_module("cnnfast.verify")  # the module; cnnfast.verify is the function


def _model():
    return randomize_batchnorm(nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(),
                                             nn.Conv2d(8, 4, 1))).eval()


def test_verify_reports_a_small_difference_for_an_optimized_model():
    model, x = _model(), torch.randn(2, 3, 9, 9)
    result = cnnfast.verify(model, cnnfast.optimize(model), x)
    assert result.ok and 0 <= result.max_rel_diff <= 1e-5 and result.same_nan
    assert "OK" in str(result)


def test_verify_catches_a_wrong_model():
    model, x = _model(), torch.randn(2, 3, 9, 9)
    wrong = copy.deepcopy(model)
    with torch.no_grad():
        wrong[3].bias.add_(1e-2)
    result = cnnfast.verify(model, wrong, x)
    assert not result.ok and "MISMATCH" in str(result)


def test_verify_compares_nan_positions():
    model = nn.Identity()
    x = torch.tensor([1.0, float("nan")])
    assert cnnfast.verify(model, nn.Identity(), x).same_nan
    shifted = cnnfast.verify(nn.Identity(), nn.Flatten(0), torch.tensor([float("nan"), 1.0]))
    assert shifted.same_nan
    assert not cnnfast.verify(lambda_model(lambda t: t), lambda_model(lambda t: t.nan_to_num()), x).same_nan


def lambda_model(fn):
    class Fn(nn.Module):
        def forward(self, t):
            return fn(t)
    return Fn()


def test_check_true_records_the_result_and_raises_past_tolerance(monkeypatch):
    model, x = _model(), torch.randn(1, 3, 9, 9)
    fast = cnnfast.optimize(model, example_input=x, check=True)
    assert cnnfast.report(fast).check.ok
    monkeypatch.setitem(verify_module.TOLERANCE, torch.float32, -1.0)  # nothing can pass
    with pytest.raises(ValueError, match="does not match the original"):
        cnnfast.optimize(model, example_input=x, check=True)


def test_check_true_needs_an_example_input():
    with pytest.raises(ValueError, match="example_input"):
        cnnfast.optimize(_model(), check=True)
