"""drop_dropout: Dropout (identity in eval mode) and nn.Identity leave the graph; nothing else does."""

import torch
import torch.nn as nn
import torch.nn.functional as F

import cnnfast
from tests._helpers import check_same


def _kinds(model):
    return {type(m) for m in model.modules()}


def test_dropout_and_identity_are_removed():
    model = nn.Sequential(nn.Conv2d(4, 8, 3), nn.Dropout(0.5), nn.Identity(), nn.Dropout2d(0.2), nn.ReLU())
    fast = check_same(model, torch.randn(2, 4, 9, 9))
    assert not _kinds(fast) & {nn.Dropout, nn.Dropout2d, nn.Identity}
    assert cnnfast.report(fast).fused["dropout removed"] == 2  # Identity goes silently: it computes nothing


class FunctionalDropout(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3)

    def forward(self, x):
        return F.dropout(self.conv(x), 0.5, training=self.training)


def test_functional_dropout_in_eval_is_exact():
    check_same(FunctionalDropout(), torch.randn(1, 4, 9, 9))


def test_dropout_in_training_mode_is_refused_not_dropped():
    model = nn.Sequential(nn.Conv2d(4, 8, 3), nn.Dropout(0.5)).train()
    try:
        cnnfast.optimize(model)
    except ValueError as e:
        assert "eval" in str(e)
    else:  # pragma: no cover - optimize must refuse a model in training mode
        raise AssertionError("optimize() accepted a model in training mode")
