"""optimize() on concatenations: a user-written Inception block and dense block (sibling convs
merged, branches written into one buffer, BN+ReLU+1x1 fused), exact results in both layouts and
through TorchScript, and the patterns that must be left alone."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import cnnfast
from cnnfast.nn import Conv2dBiasAct, PreactConv1x1
from cnnfast.testing import randomize_batchnorm
from tests._helpers import MODEL_TOLERANCE, rel_err
from tests.corpus.user_models import DenseLayer  # returns cat([new, x]) or cat([x, new]): a chain of cats


def _cbr(c_in, c_out, k, **kw):
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, bias=False, **kw), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class UserInception(nn.Module):
    """Four branches on one input, written by hand: 1x1, 1x1 -> 3x3, 1x1 -> 5x5, maxpool -> 1x1."""

    def __init__(self, c=24):
        super().__init__()
        self.b1 = _cbr(c, 8, 1)
        self.b2 = nn.Sequential(_cbr(c, 12, 1), _cbr(12, 16, 3, padding=1))
        self.b3 = nn.Sequential(_cbr(c, 4, 1), _cbr(4, 6, 5, padding=2))
        self.b4 = _cbr(c, 5, 1)

    def forward(self, x):
        pool = F.max_pool2d(x, 3, stride=1, padding=1)
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(pool)], dim=1)


class UserDenseBlock(nn.Module):
    """A dense block written by hand: each layer sees the concatenation of everything before it."""

    def __init__(self, c=16, growth=8, layers=4):
        super().__init__()
        self.layers = nn.ModuleList()
        for i in range(layers):
            c_in = c + i * growth
            self.layers.append(nn.Sequential(nn.BatchNorm2d(c_in), nn.ReLU(), nn.Conv2d(c_in, 4 * growth, 1, bias=False),
                                             nn.BatchNorm2d(4 * growth), nn.ReLU(),
                                             nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)))
        self.stem = nn.Conv2d(3, c, 3, padding=1)

    def forward(self, x):
        features = [self.stem(x)]
        for layer in self.layers:
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


def _optimize(model, x, channels_last=True, tol=MODEL_TOLERANCE):
    model = randomize_batchnorm(model).eval()
    with torch.no_grad():
        ref = model(x)
    fast = cnnfast.optimize(model, channels_last=channels_last)
    with torch.no_grad():
        out = fast(x)
    assert out.shape == ref.shape
    assert rel_err(out, ref) <= tol
    return fast


@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("batch", [1, 3])
def test_user_inception_block(batch, channels_last):
    fast = _optimize(UserInception(), torch.randn(batch, 24, 11, 11), channels_last)
    fused = cnnfast.report(fast).fused
    # b2's and b3's 1x1 convs feed convs, so they stay apart from b1's (fuse_sibling_convs)
    assert not any("sibling" in k for k in fused)
    assert fused["concat in place (1 cat)"] == 1
    assert fused["conv writes into concat"] == 4  # every branch ends in a conv
    assert "torch.cat" not in fast.code


@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("batch", [1, 2])
def test_user_dense_block(batch, channels_last):
    fast = _optimize(UserDenseBlock(), torch.randn(batch, 3, 9, 9), channels_last)
    fused = cnnfast.report(fast).fused
    assert fused["bn+relu+conv1x1"] == 4
    assert fused["conv writes into concat"] == 5  # the stem and every layer's 3x3
    assert fused["concat in place (5 cats)"] == 1  # four layer inputs and the block output share one buffer
    assert sum(isinstance(m, PreactConv1x1) for m in fast.modules()) == 4
    assert "torch.cat" not in fast.code


class GridReduction(nn.Module):
    """Inception-v3's Mixed_6a: two strided conv branches and a strided max pool, concatenated."""

    def __init__(self, c=16):
        super().__init__()
        self.stem = _cbr(3, c, 3, padding=1)  # a part's channel count must be known before running
        self.b1 = _cbr(c, 24, 3, stride=2)
        self.b2 = nn.Sequential(_cbr(c, 8, 1), _cbr(8, 12, 3, stride=2))

    def forward(self, x):
        x = self.stem(x)
        return torch.cat([self.b1(x), self.b2(x), F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class PoolThenDense(nn.Module):
    """DenseNet's stem: a max pool whose output is the first part of the block's cats."""

    def __init__(self, ceil_mode=False):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2, 1, ceil_mode=ceil_mode))
        self.block = UserDenseBlock(16, 8, 2)

    def forward(self, x):
        features = [self.stem(x)]
        for layer in self.block.layers:
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


def _copies(fast, x):
    with torch.no_grad(), torch.profiler.profile() as prof:
        fast(x)
    return [e for e in prof.events() if e.name == "aten::copy_"]


@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("batch", [1, 2])
def test_max_pool_part_writes_its_slice(batch, channels_last):
    x = torch.randn(batch, 3, 11, 11)
    fast = _optimize(GridReduction(), x, channels_last)
    fused = cnnfast.report(fast).fused
    assert fused["max pool writes into concat"] == 1 and fused["conv writes into concat"] == 2
    assert "torch.cat" not in fast.code
    if channels_last:  # NCHW input goes through to_channels_last first: a copy, not the cat's
        assert not _copies(fast, x.contiguous(memory_format=torch.channels_last))


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_max_pool_as_first_part_allocates_the_buffer(ceil_mode):
    x = torch.randn(2, 3, 13, 13).contiguous(memory_format=torch.channels_last)
    fast = _optimize(PoolThenDense(ceil_mode), x)
    fused = cnnfast.report(fast).fused
    # Floor mode: the buffer takes the pool's output size and the pool writes into it. A ceil-mode
    # pool as first part is copied in (its size rule differs from the conv's the buffer uses).
    assert fused.get("max pool writes into concat", 0) == (0 if ceil_mode else 1)
    assert len(_copies(fast, x)) == (1 if ceil_mode else 0)


class TwoBlocks(nn.Module):
    """Two dense blocks joined by a DenseNet transition (BN -> ReLU -> 1x1 conv -> 2x2 average pool):
    the transition's output is the second block's first part."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(16, 16, 1)  # a 1x1 conv writes its slice (an RGB stem's oneDNN conv copies)
        self.block1, self.block2 = UserDenseBlock(16, 8, 2), UserDenseBlock(16, 8, 2)
        self.transition = nn.Sequential(nn.BatchNorm2d(32), nn.ReLU(), nn.Conv2d(32, 16, 1, bias=False),
                                        nn.AvgPool2d(2, 2))

    def forward(self, x):
        features = [self.stem(x)]
        for layer in self.block1.layers:
            features.append(layer(torch.cat(features, 1)))
        features = [self.transition(torch.cat(features, 1))]
        for layer in self.block2.layers:
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


@pytest.mark.parametrize("channels_last", [True, False])
def test_transition_writes_the_next_blocks_first_part(channels_last):
    x = torch.randn(2, 16, 14, 14)
    fast = _optimize(TwoBlocks(), x, channels_last)
    fused = cnnfast.report(fast).fused
    assert fused["bn+relu+conv1x1+avgpool"] == 1 and fused["bn+relu+conv1x1 writes into concat"] == 1
    assert "torch.cat" not in fast.code
    if channels_last:
        assert not _copies(fast, x.contiguous(memory_format=torch.channels_last))


def test_torchscript_round_trip(tmp_path):
    for model, x in [(UserInception(), torch.randn(2, 24, 8, 8)), (UserDenseBlock(), torch.randn(2, 3, 7, 7)),
                     (GridReduction(), torch.randn(2, 3, 9, 9)), (PoolThenDense(), torch.randn(1, 3, 10, 10)),
                     (TwoBlocks(), torch.randn(1, 16, 12, 12))]:
        model = randomize_batchnorm(model).eval()
        fast = cnnfast.optimize(model)
        scripted = torch.jit.script(fast)
        path = tmp_path / "m.pt"
        scripted.save(str(path))
        loaded = torch.jit.load(str(path))
        with torch.no_grad():
            assert rel_err(loaded(x), model(x)) <= MODEL_TOLERANCE
            frozen = cnnfast.optimize(model, script=True)
            assert rel_err(frozen(x), model(x)) <= MODEL_TOLERANCE


def test_nested_cat_joins_the_outer_buffer():
    class Nested(nn.Module):  # Inception-v3's E block: one branch is itself a concatenation
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = _cbr(6, 4, 1), _cbr(6, 3, (1, 3), padding=(0, 1)), _cbr(6, 5, (3, 1), padding=(1, 0))

        def forward(self, x):
            return torch.cat([self.a(x), torch.cat([self.b(x), self.c(x)], 1)], 1)

    fast = _optimize(Nested(), torch.randn(2, 6, 7, 7))
    fused = cnnfast.report(fast).fused
    # the inner cat is a run in the middle of the outer one's buffer: both are views of it
    assert fused["concat in place (2 cats)"] == 1 and fused["conv writes into concat"] == 3
    assert "torch.cat" not in fast.code


@pytest.mark.parametrize("new_first", [True, False])
@pytest.mark.parametrize("channels_last", [True, False])
def test_chained_cats_share_one_buffer(new_first, channels_last):
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), *[DenseLayer(8 + 4 * i, 4, new_first) for i in range(4)])
    fast = _optimize(model, torch.randn(2, 3, 9, 9), channels_last)
    fused = cnnfast.report(fast).fused
    assert fused["concat in place (4 cats)"] == 1  # every layer's cat is a run of the last one's buffer
    assert fused["conv writes into concat"] == 5
    assert "torch.cat" not in fast.code


class WritesIntoCat(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(4, 4, 1), nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        y = torch.cat([self.a(x), self.b(x)], 1)
        y.relu_()  # in place on the cat's result: a buffer view would be changed under other readers
        return y + self.a.weight.sum()


class CatOfInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 4, 1)

    def forward(self, x, y):  # the inputs' channel counts are not known before the model runs
        return self.conv(torch.cat([x, y], 1))


def test_cat_with_in_place_reader_is_left_alone():
    fast = _optimize(WritesIntoCat(), torch.randn(2, 4, 5, 5))
    assert not any(k.startswith("concat") for k in cnnfast.report(fast).fused)
    assert "torch.cat" in fast.code


def test_cat_of_model_inputs_is_left_alone():
    model = CatOfInputs().eval()
    x, y = torch.randn(1, 4, 5, 5), torch.randn(1, 4, 5, 5)
    fast = cnnfast.optimize(model)
    with torch.no_grad():
        assert rel_err(fast(x, y), model(x, y)) <= MODEL_TOLERANCE
    assert "torch.cat" in fast.code


def test_siblings_with_different_geometry_stay_apart():
    class Mixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = nn.Conv2d(6, 4, 1), nn.Conv2d(6, 4, 3, padding=1), nn.Conv2d(6, 2, 1, stride=2)

        def forward(self, x):
            return self.a(x) + self.b(x), self.c(x)

    model = Mixed().eval()
    x = torch.randn(2, 6, 8, 8)
    fast = cnnfast.optimize(model)
    with torch.no_grad():
        for o, r in zip(fast(x), model(x)):
            assert rel_err(o, r) <= MODEL_TOLERANCE
    assert not any("sibling" in k for k in cnnfast.report(fast).fused)
    assert sum(isinstance(m, Conv2dBiasAct) for m in fast.modules()) == 3


def test_input_is_not_mutated():
    model = randomize_batchnorm(UserDenseBlock()).eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    cnnfast.optimize(model)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


def test_unbatched_input_is_a_clear_error():
    model = randomize_batchnorm(UserInception()).eval()
    fast = cnnfast.optimize(model)
    with torch.no_grad(), pytest.raises(ValueError, match="batched"):
        fast(torch.randn(24, 8, 8))
