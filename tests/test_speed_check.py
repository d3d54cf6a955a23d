"""optimize()'s speed check: a result measured slower than the original on example_input is not
returned (the original's copy is, with the reason in the report)."""

import sys
import time

import torch
import torch.nn as nn

import cnnfast
import cnnfast.speed_check as speed_check


class Sleepy(nn.Module):
    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def forward(self, x):
        time.sleep(self.seconds)
        return x


def test_measures_the_slower_model(monkeypatch):
    monkeypatch.setattr(speed_check, "TIMED_BELOW_S", 0.02)
    x = torch.randn(1)
    slow = speed_check.slower_than_original(Sleepy(0.0), Sleepy(0.002), (x,))
    assert slow is not None and slow[1] > slow[0]
    assert speed_check.slower_than_original(Sleepy(0.002), Sleepy(0.0), (x,)) is None
    assert speed_check.slower_than_original(Sleepy(0.03), Sleepy(0.06), (x,)) is None  # not timed: too long


def test_a_slower_result_is_not_returned(monkeypatch):
    opt = sys.modules["cnnfast.optimize"]
    monkeypatch.setattr(opt, "slower_than_original", lambda *a: (1e-3, 2e-3))
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).eval()
    x = torch.randn(1, 3, 8, 8)
    fast = cnnfast.optimize(model, example_input=x)
    report = cnnfast.report(fast)
    assert isinstance(fast, nn.Sequential) and type(fast[0]) is nn.Conv2d and fast is not model
    assert any("measured slower than the original" in why for _, why in report.skipped)
    kept = cnnfast.optimize(model, example_input=x, speed_check=False)
    assert [p for _, p in cnnfast.report(kept).final] == ["conv+bn+relu"]
