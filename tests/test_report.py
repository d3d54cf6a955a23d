"""cnnfast.report describes the optimized model: each fused module once with its pattern, every
Conv2d / BatchNorm2d / Linear left unfused with a reason, and coverage per kind."""

from collections import Counter

import torch.nn as nn
import torchvision

import cnnfast
from cnnfast.nn import Conv2dBiasAct


def test_resnet_report_counts_modules_not_pass_steps():
    fast = cnnfast.optimize(torchvision.models.resnet18().eval())
    report = cnnfast.report(fast)
    patterns = Counter(p for _, p in report.final)
    convs = sum(isinstance(m, Conv2dBiasAct) for m in fast.modules())
    assert sum(n for p, n in patterns.items() if p.startswith("conv")) == convs == 20
    assert patterns["conv+bn+add+relu"] == 8 and patterns["linear"] == 1
    assert report.coverage == {"Conv2d": (20, 20), "BatchNorm2d": (20, 20), "Linear": (1, 1)}
    assert not report.unfused


class LeftAlone(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1, padding_mode="reflect")
        self.pre = nn.BatchNorm2d(3)  # before a 3x3 conv: nothing to fold into
        self.conv2 = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.conv2(self.pre(self.conv(x)))


def test_every_layer_left_is_listed_with_its_reason():
    report = cnnfast.report(cnnfast.optimize(LeftAlone().eval()))
    unfused = {path: (kind, why) for path, kind, why in report.unfused}
    assert unfused["conv"] == ("Conv2d", "padding_mode='reflect' is not fused (only zero padding is exact)")
    assert unfused["pre"][0] == "BatchNorm2d" and "not directly after a conv" in unfused["pre"][1]
    assert report.coverage == {"Conv2d": (1, 2), "BatchNorm2d": (0, 1)}
    assert [p for _, p in report.final] == ["conv"]


def test_a_reason_given_for_many_sites_is_one_line():
    report = cnnfast.Report()
    for i in range(5):
        report.skip(f"layer{i}.conv", "left apart: same reason")
    report.skip("head", "its own reason")
    text = str(report)
    assert "skipped 6:" in text
    assert "  5 sites (layer0.conv, layer1.conv, layer2.conv, ...): left apart: same reason" in text
    assert "  head: its own reason" in text and text.count("same reason") == 1
