"""reuse_residual_buffer: a 1x1 conv stores its result over a residual that nothing reads after
it, and only then: never over the model's input, a tensor read later, a view, or where a kernel
could not store in place. Every case is checked against eager with random BN statistics."""

import pytest
import torch
import torch.nn as nn
import torch.fx as fx
import torch.nn.functional as F

import cnnfast
from cnnfast import config
from cnnfast.nn import Conv2dBiasAct
from tests._helpers import MODEL_TOLERANCE, TOLERANCE, inner, randomize_batchnorm, rel_err

pytestmark = pytest.mark.skipif(not config.conv_engine_available(),
                                reason="the pass needs the conv engine (a torch with the brgemm microkernel, AVX2)")


def _cbr(c_in, c_out, k, stride=1, act=True):
    layers = [nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False), nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, nn.ReLU()) if act else nn.Sequential(*layers)


class Bottleneck(nn.Module):
    """ResNet-50's block: 1x1 reduce, 3x3, 1x1 expand + skip; a strided 1x1 projection in front."""

    def __init__(self, c_in, width, c_out, stride=1):
        super().__init__()
        self.reduce, self.mid, self.expand = _cbr(c_in, width, 1), _cbr(width, width, 3, stride), _cbr(width, c_out, 1, act=False)
        self.down = _cbr(c_in, c_out, 1, stride, act=False) if stride != 1 or c_in != c_out else None

    def forward(self, x):
        skip = x if self.down is None else self.down(x)
        return F.relu(self.expand(self.mid(self.reduce(x))) + skip)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem, self.pool = _cbr(3, 16, 3), nn.MaxPool2d(2)
        self.blocks = nn.Sequential(Bottleneck(16, 8, 32), Bottleneck(32, 8, 32), Bottleneck(32, 16, 64, stride=2),
                                    Bottleneck(64, 16, 64))

    def forward(self, x):
        return self.blocks(self.pool(self.stem(x)))


class Projection(nn.Module):
    """RegNet's first block of a stage: the strided 1x1 projection takes the branch as its residual."""

    def __init__(self):
        super().__init__()
        self.stem, self.branch, self.proj = _cbr(3, 16, 3), _cbr(16, 32, 3, 2), _cbr(16, 32, 1, 2, act=False)

    def forward(self, x):
        y = self.stem(x)
        return F.relu(self.branch(y) + self.proj(y))


@pytest.fixture(autouse=True)
def every_map_in_place(monkeypatch):
    """The test maps are small: let every one take the in-place store (set before scripting, which
    reads the constant)."""
    monkeypatch.setattr(Conv2dBiasAct, "min_in_place_floats", 0)


def _stores_over_residual(model, x):
    """How many convs of one call ran as conv2d_bias_act_out (nothing else in these models does)."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof, torch.inference_mode():
        model(x)
    return sum(e.name == "cnnfast::conv2d_bias_act_out" for e in prof.events())


def _run(model, x):
    model = randomize_batchnorm(model).eval()
    x0 = x.clone()
    with torch.inference_mode():
        ref = model(x)
        fast = cnnfast.optimize(model)
        scripted = cnnfast.optimize(model, script=True)
        out, out_script = fast(x), scripted(x)
    assert isinstance(scripted, torch.jit.ScriptModule), cnnfast.report(scripted).notes
    assert torch.equal(x, x0), "the model's input was written"
    assert rel_err(out, ref) <= MODEL_TOLERANCE and rel_err(out_script, ref) <= MODEL_TOLERANCE
    return fast


def _reused(fast):
    return sorted(n for n, m in inner(fast).named_modules() if isinstance(m, Conv2dBiasAct) and m.reuse_residual)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last], ids=["nchw", "nhwc"])
def test_bottlenecks_store_over_their_skip(batch, layout):
    x = torch.randn(batch, 3, 18, 18).contiguous(memory_format=layout)
    fast = _run(Net(), x)
    assert _stores_over_residual(fast, x) == 4
    # every expansion (a 1x1 with the skip) and no other conv; the first block's skip is its
    # projection's output, the next ones' the block before's
    assert _reused(fast) == [f"blocks.{i}.expand.0" for i in range(4)]
    assert cnnfast.report(fast).fused["residual reused"] == 4


def test_a_strided_projection_stores_over_the_branch():
    fast = _run(Projection(), torch.randn(2, 3, 16, 16))
    assert _reused(fast) == ["proj.0"]


class SkipIsInput(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(16, 16, 1)

    def forward(self, x):
        return F.relu(self.conv(F.relu(x * 2)) + x)


class _StemThenA(nn.Module):
    """A 3x3 stem (its output y, a fresh map, is the skip) and the 1x1 (or 3x3) conv `a` that adds it."""

    def __init__(self, stem_out=16, a_kernel=1):
        super().__init__()
        self.stem = nn.Conv2d(16, stem_out, 3, padding=1)
        self.a = nn.Conv2d(16, 16, a_kernel, padding=a_kernel // 2)


class SkipReadAfter(_StemThenA):
    def __init__(self):
        super().__init__()
        self.b = nn.Conv2d(16, 16, 1)

    def forward(self, x):
        y = self.stem(x)
        z = F.relu(self.a(F.relu(y)) + y)
        return self.b(z) * y  # y is read again after a's residual add


class SkipReadByALaterConv(_StemThenA):
    def __init__(self):
        super().__init__()
        self.c, self.b = nn.Conv2d(16, 16, 1), nn.Conv2d(16, 16, 1)

    def forward(self, x):
        y = self.stem(x)
        z = F.relu(self.a(self.c(y)) + y)  # every reader of y a fused conv, but
        return self.b(y) * z                # b reads it after a's add


class SkipIsItsInput(_StemThenA):
    def forward(self, x):
        y = self.stem(x)
        return F.relu(self.a(y) + y)


class SkipReturned(_StemThenA):
    def forward(self, x):
        y = self.stem(x)
        return F.relu(self.a(F.relu(y)) + y), y


class SkipIsView(_StemThenA):
    def __init__(self):
        super().__init__(stem_out=32)

    def forward(self, x):
        y = self.stem(x)
        return self.a(F.relu(x)) + y[:, :16], y


class SkipOfA3x3(_StemThenA):
    def __init__(self):
        super().__init__(a_kernel=3)

    def forward(self, x):
        y = self.stem(x)
        return F.relu(self.a(F.relu(y)) + y)


@pytest.mark.parametrize("model", [SkipIsInput, SkipReadAfter, SkipReadByALaterConv, SkipIsItsInput, SkipReturned, SkipIsView,
                                   SkipOfA3x3],
                         ids=lambda m: m.__name__)
def test_live_or_unsuited_skips_are_left_alone(model):
    x = torch.randn(2, 16, 7, 7)  # 16 channels everywhere: only liveness keeps these from the pass
    m = randomize_batchnorm(model()).eval()
    with torch.inference_mode():
        ref = m(x)
        fast = cnnfast.optimize(m)
        out = fast(x)
    refs, outs = (ref, out) if isinstance(ref, tuple) else ((ref,), (out,))
    assert all(rel_err(o, r) <= MODEL_TOLERANCE for o, r in zip(outs, refs))
    assert _reused(fast) == []


def test_a_concat_slice_is_never_stored_over():
    # fuse_concat's convs return a channel slice of a live buffer (out=...): not a tensor of their
    # own, whatever reads it. No model reaches this through the passes (a slice conv's only user
    # is the buffer), so the graph is built by hand.
    from cnnfast.passes import reuse_residual_buffer
    from cnnfast.report import Report

    root = nn.Module()
    root.p, root.a = _conv(16, 16), _conv(16, 16)
    g = fx.Graph()
    x, buf = g.placeholder("x"), g.placeholder("buf")
    p = g.call_module("p", (x,), {"out": buf})
    g.output(g.call_module("a", (x,), {"residual": p}))
    gm = fx.GraphModule(root, g)
    reuse_residual_buffer.run(gm, Report(), "")
    assert not gm.a.reuse_residual
    # the control: the same graph with p writing a tensor of its own
    p.kwargs = {}
    reuse_residual_buffer.run(gm, Report(), "")
    assert gm.a.reuse_residual


def test_a_module_called_twice_is_left_alone():
    # The flag is the module's: its other call site's residual (here returned) would be stored
    # over too. fuse_residual_add does not fuse a shared conv, so the graph is built by hand.
    from cnnfast.passes import reuse_residual_buffer
    from cnnfast.report import Report

    root = nn.Module()
    root.c, root.a = _conv(16, 16), _conv(16, 16)
    g = fx.Graph()
    x = g.placeholder("x")
    y = g.call_module("c", (x,))
    first = g.call_module("a", (x,), {"residual": y})
    second = g.call_module("a", (x,), {"residual": x})
    g.output((first, second))
    gm = fx.GraphModule(root, g)
    reuse_residual_buffer.run(gm, Report(), "")
    assert not gm.a.reuse_residual
    second.replace_all_uses_with(first)  # the control: one call site
    g.erase_node(second)
    reuse_residual_buffer.run(gm, Report(), "")
    assert gm.a.reuse_residual


def test_skipping_the_pass_leaves_every_skip_fresh():
    model = randomize_batchnorm(Net()).eval()
    assert _reused(cnnfast.optimize(model, skip_passes=["reuse_residual_buffer"])) == []


def _conv(c_in=8, c_out=16):
    return Conv2dBiasAct(torch.randn(c_out, c_in, 1, 1), torch.randn(c_out), (1, 1), (0, 0), (1, 1), 1, "relu")


def test_run_time_guard_takes_a_fresh_output_where_it_cannot_store_in_place(monkeypatch):
    conv, x = _conv(), torch.randn(2, 8, 5, 5).contiguous(memory_format=torch.channels_last)
    r = torch.randn(2, 16, 5, 5).contiguous(memory_format=torch.channels_last)
    assert conv._writes_into_residual(x, r)
    monkeypatch.setattr(Conv2dBiasAct, "min_in_place_floats", r.numel() + 1)
    assert not conv._writes_into_residual(x, r)  # a small map: a fresh output is as fast
    monkeypatch.undo()
    assert not conv._writes_into_residual(x, r.contiguous())                        # NCHW residual
    assert not conv._writes_into_residual(x, r[:, :, :1, :1].expand(2, 16, 5, 5))  # a broadcast one
    assert not conv._writes_into_residual(x, torch.randn(2, 16, 1, 1))
    assert not conv._writes_into_residual(x.bfloat16(), r.bfloat16())
    assert not conv._writes_into_residual(x, r.clone().requires_grad_())


def test_flagged_module_writes_its_result_over_the_residual():
    conv, x = _conv(), torch.randn(2, 8, 5, 5).contiguous(memory_format=torch.channels_last)
    r = torch.randn(2, 16, 5, 5).contiguous(memory_format=torch.channels_last)
    ref = torch.relu(F.conv2d(x.double(), conv.weight.double(), conv.bias.double()) + r.double())
    conv.reuse_residual = True
    with torch.inference_mode():
        out = conv(x, r)
    assert out.data_ptr() == r.data_ptr()
    assert rel_err(out, ref) <= TOLERANCE[torch.float32]
    # and a residual it cannot store over is left as it was
    r_nchw = torch.randn(2, 16, 5, 5)
    before = r_nchw.clone()
    with torch.inference_mode():
        out = conv(x, r_nchw)
    assert torch.equal(r_nchw, before) and out.data_ptr() != r_nchw.data_ptr()


# conv2d_bias_act_out with out aliasing the residual, on every CPU kernel, each on the shapes it
# runs: each must read a residual value before it stores over it (Winograd, whose NaN fallback
# needs the residual intact, runs the direct loops instead). (N, C, K, kernel, stride, map)
_GEOMETRIES = {"1x1-b1": (1, 16, 40, 1, 1, 9), "1x1-odd": (3, 24, 17, 1, 1, 9), "3x3": (2, 16, 32, 3, 1, 9),
               "1x1-s2": (2, 8, 16, 1, 2, 9), "1x1-map1": (2, 16, 32, 1, 1, 1)}
_KERNEL_CASES = ([(p, g) for p in ("engine", "onednn", "portable") for g in _GEOMETRIES]
                 + [("pointwise", "1x1-b1"), ("pointwise", "1x1-odd"), ("winograd", "3x3"), ("gemm", "1x1-map1")])


@pytest.mark.parametrize("path,geometry", _KERNEL_CASES, ids=[f"{p}-{g}" for p, g in _KERNEL_CASES])
def test_out_over_the_residual_on_every_kernel(path, geometry):
    n, c, k, r, stride, hw = _GEOMETRIES[geometry]
    x = torch.randn(n, c, hw, hw).contiguous(memory_format=torch.channels_last)
    w, b = torch.randn(k, c, r, r) * 0.2, torch.randn(k)
    ho = (hw + 2 * (r // 2) - r) // stride + 1
    res = torch.randn(n, k, ho, ho).contiguous(memory_format=torch.channels_last)
    ref = torch.relu(F.conv2d(x.double(), w.double(), b.double(), stride, r // 2) + res.double())
    with config.force_conv_path(path), torch.inference_mode():
        assert config.conv_path_for(x.shape, w.shape, stride, r // 2) == path
        out = cnnfast.ops.conv2d_bias_act_out(x, w, b, stride, r // 2, residual=res, act="relu", out=res)
    assert out.data_ptr() == res.data_ptr()
    assert rel_err(out, ref) <= TOLERANCE[torch.float32]
