"""The pass pipeline: each pass fires on a small model of its own and only when it runs, a pass
that raises is undone without costing the others, and skip_passes is checked."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

import cnnfast
from cnnfast.passes import pipeline
from cnnfast.testing import randomize_batchnorm
from tests._helpers import MODEL_TOLERANCE, rel_err


def _cbr(c_in, c_out, k=3):
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        return F.relu(self.conv(x) + x)


class Siblings(nn.Module):
    def __init__(self, same_kernel=False):
        super().__init__()
        self.a, self.b = _cbr(8, 4, 1), _cbr(8, 6, 1 if same_kernel else 3)

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x)], 1)


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2, self.fc = nn.Conv2d(1, 4, 5), nn.Conv2d(4, 8, 5), nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.fc(x.view(x.size(0), -1))


class Flatten(nn.Module):  # a view after a conv: channels_last maps need reshape
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 4, 3)

    def forward(self, x):
        y = self.conv(x)
        return y.view(y.size(0), -1).sum(1)


class Bottleneck(nn.Module):  # a 1x1 expansion whose residual, a fresh map, is dead after it
    def __init__(self):
        super().__init__()
        self.stem, self.a, self.b = nn.Conv2d(8, 16, 3, padding=1), nn.Conv2d(16, 8, 1), nn.Conv2d(8, 16, 1)

    def forward(self, x):
        y = self.stem(x)
        return F.relu(self.b(F.relu(self.a(y))) + y)


def _se():
    return nn.Sequential(_cbr(8, 16), torchvision.ops.SqueezeExcitation(16, 4))


# pass -> (model, input shape, a pattern it reports: a key of report.fused, or a note's text)
CASES = {
    "drop_dropout": (lambda: nn.Sequential(nn.Conv2d(8, 8, 3), nn.Dropout(0.5)), (2, 8, 6, 6), "dropout removed"),
    "fuse_conv_bn": (lambda: nn.Sequential(nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8)), (2, 8, 6, 6), "conv+bn"),
    "fuse_residual_add": (Residual, (2, 8, 6, 6), "conv+add+relu"),
    "fuse_activation": (lambda: nn.Sequential(nn.Conv2d(8, 8, 3), nn.SiLU()), (2, 8, 6, 6), "+silu"),
    "fuse_squeeze_excite": (_se, (2, 8, 6, 6), "squeeze-excite"),
    "fuse_linear": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(72, 10), nn.ReLU()), (2, 8, 3, 3), "linear+relu"),
    "fuse_preact_conv": (lambda: nn.Sequential(nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 1)), (2, 8, 6, 6),
                         "bn+relu+conv1x1"),
    "avg_pool_as_conv": (lambda: nn.Sequential(nn.Conv2d(8, 8, 3), nn.AvgPool2d(3, 1, 1)), (2, 8, 6, 6),
                         "avg_pool as depthwise conv"),
    "fold_channel_shuffle": (lambda: nn.Sequential(torchvision.models.shufflenetv2.InvertedResidual(8, 16, 2),
                                                   torchvision.models.shufflenetv2.InvertedResidual(16, 16, 1)),
                             (2, 8, 12, 12),
                             "channel shuffle folded"),
    "fuse_sibling_convs": (lambda: Siblings(same_kernel=True), (2, 8, 6, 6), "2 sibling convs -> 1"),
    "fuse_concat": (Siblings, (2, 8, 6, 6), "concat in place"),
    "fuse_conv1x1_depthwise": (lambda: nn.Sequential(nn.Conv2d(8, 16, 1), nn.ReLU(),
                                                     nn.Conv2d(16, 16, 3, padding=1, groups=16)), (2, 8, 6, 6),
                               "conv1x1+depthwise"),
    "fuse_se_squeeze": (lambda: nn.Sequential(nn.Conv2d(8, 8, 3, groups=8), torchvision.ops.SqueezeExcitation(8, 4)),
                        (2, 8, 6, 6), "conv+squeeze"),
    "use_max_pool2d": (lambda: nn.Sequential(nn.Conv2d(8, 8, 3), nn.MaxPool2d(2)), (2, 8, 6, 6), "max_pool2d"),
    "fuse_small_cnn": (LeNet, (2, 1, 28, 28), "small_cnn"),
    "use_global_avg_pool": (lambda: nn.Sequential(nn.Conv2d(8, 8, 3), nn.AdaptiveAvgPool2d(1)), (2, 8, 6, 6),
                            "global_avg_pool2d"),
    "view_to_reshape": (Flatten, (2, 8, 6, 6), "Tensor.view -> reshape"),
    "reuse_residual_buffer": (Bottleneck, (2, 8, 6, 6), "residual reused"),
}


def _said(report, pattern):
    return any(k.startswith(pattern) for k in report.fused) or any(pattern in n for n in report.notes)


def test_every_pass_has_a_case():
    # micro_batch runs from optimize() with an example_input and the machine's cache sizes, so its
    # cases (firing, and not firing when skipped) are in test_micro_batch.py
    assert set(CASES) == set(pipeline.PASS_NAMES) - {"micro_batch"}


@pytest.mark.parametrize("name", list(CASES))
def test_pass_fires_only_when_it_runs(name):
    build, shape, pattern = CASES[name]
    if name == "reuse_residual_buffer" and not cnnfast.config.conv_engine_available():
        pytest.skip("the pass needs the conv engine (a torch with the brgemm microkernel, AVX2)")
    model = randomize_batchnorm(build()).eval()
    x = torch.randn(shape)
    with torch.no_grad():
        ref = model(x)
        fast = cnnfast.optimize(model)
        assert _said(cnnfast.report(fast), pattern)
        assert rel_err(fast(x), ref) <= MODEL_TOLERANCE
        # a view of a channels_last map fails: that is what view_to_reshape is for
        without = cnnfast.optimize(model, skip_passes=[name], channels_last=name != "view_to_reshape")
        assert not _said(cnnfast.report(without), pattern)
        assert rel_err(without(x), ref) <= MODEL_TOLERANCE


def _failing(after_damage):
    def run(gm, ctx):
        ctx.report.add("half done", ctx.prefix + "x")
        for node in gm.graph.nodes:  # damage the graph and a module before raising
            if node.op == "call_module":
                setattr(gm, node.target.split(".")[0], nn.Identity())
                break
        if after_damage:
            raise RuntimeError("boom")
    return run


def test_a_failing_pass_is_undone_and_the_others_run(monkeypatch):
    broken = pipeline.Pass("broken", "nothing", _failing(after_damage=True))
    monkeypatch.setattr(pipeline, "PIPELINE", (broken,) + pipeline.PIPELINE)
    model = randomize_batchnorm(nn.Sequential(_cbr(3, 8), _cbr(8, 8), nn.AdaptiveAvgPool2d(1))).eval()
    x = torch.randn(2, 3, 9, 9)
    fast = cnnfast.optimize(model, example_input=x)
    report = cnnfast.report(fast)
    assert "half done" not in report.fused
    assert any("pass broken failed (RuntimeError: boom)" in why for _, why in report.skipped)
    assert report.fused["conv+bn"] == 2 and report.fused["+relu"] == 2
    with torch.no_grad():
        assert rel_err(fast(x), model(x)) <= MODEL_TOLERANCE


def test_a_pass_that_breaks_the_graph_is_undone(monkeypatch):
    def dangling(gm, ctx):  # a node reading its own output: the lint after the pass catches it
        node = next(n for n in gm.graph.nodes if n.op == "call_module")
        ctx.report.add("dangling", "x")
        node.args = (node,)
    monkeypatch.setattr(pipeline, "PIPELINE", (pipeline.Pass("dangling", "", dangling),) + pipeline.PIPELINE)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval()
    x = torch.randn(1, 3, 8, 8)
    fast = cnnfast.optimize(model)
    assert "dangling" not in cnnfast.report(fast).fused
    with torch.no_grad():
        assert rel_err(fast(x), model(x)) <= MODEL_TOLERANCE


def test_unknown_pass_name_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown pass.*fuse_everything"):
        cnnfast.optimize(nn.Conv2d(3, 3, 1).eval(), skip_passes=["fuse_everything"])


def test_a_crash_outside_the_passes_returns_an_unoptimized_copy(monkeypatch):
    import sys

    opt = sys.modules["cnnfast.optimize"]

    def boom(*a, **k):
        raise RuntimeError("walk failed")
    monkeypatch.setattr(opt, "optimize_module", boom)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval()
    fast = cnnfast.optimize(model)
    assert fast is not model and not cnnfast.report(fast).fused
    assert any("walk failed" in why for _, why in cnnfast.report(fast).skipped)


def test_an_example_the_model_cannot_run_is_a_clear_error():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval()
    with pytest.raises(ValueError, match="the model itself fails on example_input"):
        cnnfast.optimize(model, example_input=torch.randn(1, 5, 8, 8))
