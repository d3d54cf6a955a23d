"""optimize() on Linear layers: classifier heads fuse with their activation; shared layers do not."""

import torch
import torch.nn as nn

import cnnfast
from cnnfast.nn import LinearBiasAct
from tests._helpers import check_same as _run


def test_classifier_head_fuses_with_activations():
    head = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(64, 32), nn.ReLU(inplace=True),
                         nn.Dropout(0.5), nn.Linear(32, 16), nn.Hardswish(), nn.Linear(16, 10))
    for batch in (1, 3, 9):
        fast = _run(head, torch.randn(batch, 4, 4, 4))
    fused = cnnfast.report(fast).fused
    assert fused["linear+relu"] == 1 and fused["linear+hardswish"] == 1 and fused["linear"] == 1
    assert sum(isinstance(m, LinearBiasAct) for m in fast.modules()) == 3


class TokenMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 7)

    def forward(self, x):  # (N, T, 12): the layer runs on every token
        return torch.relu(self.fc(x))


def test_leading_dimensions_are_kept():
    fast = _run(TokenMLP(), torch.randn(2, 5, 12))
    assert cnnfast.report(fast).fused["linear+relu"] == 1


class SharedLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return torch.relu(self.fc(self.fc(x)))


def test_linear_called_twice_is_skipped():
    fast = _run(SharedLinear(), torch.randn(3, 8))
    assert not any(isinstance(m, LinearBiasAct) for m in fast.modules())
    assert any("called at 2 sites" in reason for _, reason in cnnfast.report(fast).skipped)


def test_scripted_head_round_trips():
    fast = _run(nn.Sequential(nn.Linear(20, 10), nn.ReLU(), nn.Linear(10, 3)), torch.randn(2, 20))
    scripted = torch.jit.script(fast)
    x = torch.randn(4, 20)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), fast(x))
