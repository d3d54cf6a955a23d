"""avg_pool_as_conv: stride-1 average pools counting their zero padding become depthwise convs
of 1 / (kh * kw) in fp32 channels_last CPU models, after the 1x1 conv that reads them where that
conv narrows the channels (Inception-v3's branch pools); every other pool stays ATen's, with its
reason in the report."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import cnnfast
from cnnfast.testing import randomize_batchnorm, rel_err

PATTERN = "avg_pool as depthwise conv"
MOVED = "avg_pool as depthwise conv after its 1x1 conv"


class PoolBranch(nn.Module):
    """Inception's pool branch: conv -> BN -> ReLU -> avg pool -> 1x1 conv."""

    def __init__(self, pool=None, c=24, k=32, **pool_kw):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU())
        self.pool, self.pool_kw = pool, pool_kw or dict(kernel_size=3, stride=1, padding=1)
        self.proj = nn.Conv2d(c, k, 1)

    def forward(self, x):
        y = self.stem(x)
        y = self.pool(y) if self.pool is not None else F.avg_pool2d(y, **self.pool_kw)
        return self.proj(y)


def _optimize(model, x, **kw):
    model = randomize_batchnorm(model).eval()
    with torch.no_grad():
        ref = model(x)
        fast = cnnfast.optimize(model, **kw)
        out = fast(x)
    return fast, ref, out


def _rewrites(fast, pattern=PATTERN):
    return sum(p == pattern for _, p in cnnfast.report(fast).sites)


def _reasons(fast):
    return [r for _, r in cnnfast.report(fast).skipped if r.startswith("average pool kept")]


@pytest.mark.parametrize("pool", [None, nn.AvgPool2d(3, 1, 1), nn.AvgPool2d(5, 1, 2), nn.AvgPool2d(2, 1)],
                         ids=["functional-3", "module-3", "module-5", "module-2-unpadded"])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last], ids=["nchw", "nhwc"])
def test_stride_1_pools_become_depthwise_convs(pool, batch, layout):
    torch.manual_seed(0)
    x = torch.randn(batch, 3, 13, 11).contiguous(memory_format=layout)
    fast, ref, out = _optimize(PoolBranch(pool), x)
    assert _rewrites(fast) == 1
    assert rel_err(out, ref) <= 1e-5


@pytest.mark.parametrize("c", [16, 24, 33])
def test_the_conv_matches_atens_pool_to_a_few_ulp(c):
    # The pool alone (no conv after it to blur the difference): 1/9 rounded once vs / 9.
    torch.manual_seed(c)

    class Pool(nn.Module):  # an identity 1x1 conv first: it fixes the channel count, exactly
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(c, c, 1, bias=False)
            with torch.no_grad():
                self.conv.weight.copy_(torch.eye(c).reshape(c, c, 1, 1))

        def forward(self, x):
            return F.avg_pool2d(self.conv(x), 3, 1, 1)

    x = torch.randn(2, c, 9, 10).contiguous(memory_format=torch.channels_last)
    model = Pool().eval()
    fast = cnnfast.optimize(model, example_input=x)
    with torch.no_grad():
        out, ref = fast(x), F.avg_pool2d(x, 3, 1, 1)
    assert _rewrites(fast) == 1
    assert rel_err(out, ref) <= 1e-6
    # NaN and Inf reach the same outputs (the identity conv spreads a NaN over its pixel's channels
    # in eager too, 0 * NaN being NaN).
    x[0, 1, 4, 4] = float("nan")
    x[1, 2, 0, 0] = float("inf")
    with torch.no_grad():
        out, ref = fast(x), model(x)
    assert torch.equal(out.isnan(), ref.isnan()) and torch.equal(out.isinf(), ref.isinf())


class InceptionPoolBranch(nn.Module):
    """torchvision's Inception-v3 pool branch: avg pool 3x3 -> 1x1 conv -> BN -> ReLU, C -> K."""

    def __init__(self, c=40, k=16, pool_kw=None, readers=1):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU())
        self.pool_kw = pool_kw or dict(kernel_size=3, stride=1, padding=1)
        self.proj = nn.Sequential(nn.Conv2d(c, k, 1, bias=False), nn.BatchNorm2d(k), nn.ReLU())
        self.side = nn.Conv2d(c, k, 1) if readers > 1 else None

    def forward(self, x):
        y = F.avg_pool2d(self.stem(x), **self.pool_kw)
        out = self.proj(y)
        return out if self.side is None else torch.cat([out, self.side(y)], 1)


@pytest.mark.parametrize("pool_kw", [None, dict(kernel_size=5, stride=1, padding=2), dict(kernel_size=2, stride=1)],
                         ids=["3x3", "5x5", "2x2-unpadded"])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last], ids=["nchw", "nhwc"])
def test_a_narrowing_1x1_conv_runs_before_the_pool(pool_kw, batch, layout):
    torch.manual_seed(batch)
    x = torch.randn(batch, 3, 13, 11).contiguous(memory_format=layout)
    fast, ref, out = _optimize(InceptionPoolBranch(pool_kw=pool_kw), x)
    assert _rewrites(fast, MOVED) == 1 and _rewrites(fast) == 0
    assert rel_err(out, ref) <= 1e-5
    # The pool now reads the conv's 16 channels, not the stem's 40, and carries its bias and ReLU.
    pools = [m for m in fast.modules() if isinstance(m, cnnfast.nn.Conv2dBiasAct) and m.groups > 1]
    assert [(m.groups, m.act, m.bias is not None) for m in pools] == [(16, "relu", True)]


def test_the_swap_is_caught_when_the_bias_goes_before_the_pool():
    # A check of the test above: the bias added before the mean is scaled down at the padded edges.
    torch.manual_seed(0)
    x = torch.randn(1, 3, 9, 9)
    model = randomize_batchnorm(InceptionPoolBranch()).eval()
    with torch.no_grad():
        ref = model(x)
        conv, bn = model.proj[0], model.proj[1]
        scale = bn.weight / (bn.running_var + bn.eps).sqrt()
        w, b = conv.weight * scale.reshape(-1, 1, 1, 1), bn.bias - bn.running_mean * scale
        wrong = F.relu(F.avg_pool2d(F.conv2d(model.stem(x), w, b), 3, 1, 1))
    assert rel_err(wrong, ref) > 1e-3


@pytest.mark.parametrize("model, why", [
    (InceptionPoolBranch(c=16, k=24), "widening"),
    (InceptionPoolBranch(readers=2), "two readers"),
    (PoolBranch(c=24, k=8, kernel_size=3, stride=1, padding=1, count_include_pad=False), "pool kept"),
], ids=["widening", "two-readers", "exclude-pad"])
def test_the_pool_keeps_its_place_otherwise(model, why):
    x = torch.randn(2, 3, 12, 12)
    fast, ref, out = _optimize(model, x)
    assert _rewrites(fast, MOVED) == 0
    assert rel_err(out, ref) <= 1e-5


@pytest.mark.parametrize("pool_kw, reason", [
    (dict(kernel_size=3, stride=1, padding=1, count_include_pad=False), "count_include_pad=False"),
    (dict(kernel_size=2, stride=2), "stride [2, 2]"),
    (dict(kernel_size=3, stride=1, padding=1, ceil_mode=True), "ceil_mode"),
    (dict(kernel_size=3, stride=1, padding=1, divisor_override=4), "divisor_override"),
], ids=["exclude-pad", "stride-2", "ceil", "divisor"])
def test_other_pools_stay_atens_with_the_reason(pool_kw, reason):
    x = torch.randn(2, 3, 12, 12)
    fast, ref, out = _optimize(PoolBranch(**pool_kw), x)
    assert _rewrites(fast) == 0
    assert any(reason in r for r in _reasons(fast))
    assert rel_err(out, ref) <= 1e-5


def test_nchw_and_fp64_models_keep_their_pools():
    x = torch.randn(2, 3, 12, 12)
    fast, ref, out = _optimize(PoolBranch(), x, channels_last=False)
    assert _rewrites(fast) == 0 and _reasons(fast)
    assert rel_err(out, ref) <= 1e-5
    fast, ref, out = _optimize(PoolBranch().double(), x.double())
    assert _rewrites(fast) == 0 and _reasons(fast)
    assert rel_err(out, ref) <= 1e-10


def test_skip_passes_leaves_the_pool():
    x = torch.randn(1, 3, 12, 12)
    fast, ref, out = _optimize(PoolBranch(), x, skip_passes=("avg_pool_as_conv",))
    assert _rewrites(fast) == 0
    assert rel_err(out, ref) <= 1e-5
