"""optimize()'s micro-batch step: which regions it splits (a fixed cache budget, not this
machine's), that the split model gives eager's results for batches that divide into chunks and
batches that do not, in both layouts, scripted too; that an op mixing images ends a region; and
the MicroBatch module's own contract."""

import pytest
import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

import cnnfast
from cnnfast.nn.micro_batch import MicroBatch
from cnnfast.passes import micro_batch
from cnnfast.testing import randomize_batchnorm
from tests._helpers import MODEL_TOLERANCE, rel_err

KB = 1024


def _cbr(c_in, c_out, k, stride=1):
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class Block(nn.Module):
    def __init__(self, c_in, c_out, stride=1):
        super().__init__()
        self.a = _cbr(c_in, c_out, 3, stride)
        self.b = nn.Sequential(nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.down = None if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        r = x if self.down is None else self.down(x)
        return F.relu(self.b(self.a(x)) + r)


class Branches(nn.Module):
    """Two branches joined on channels (the concat pass's buffer, slices and views)."""

    def __init__(self, c):
        super().__init__()
        self.p, self.q = _cbr(c, 8, 1), _cbr(c, 8, 3)

    def forward(self, x):
        return torch.cat([self.p(x), self.q(x)], 1)


class SmallResNet(nn.Module):
    """Stem, pool, residual blocks, a concat, then a head that reshapes (not split)."""

    def __init__(self, mix_batch=False):
        super().__init__()
        self.stem = _cbr(3, 16, 3)
        self.blocks = nn.Sequential(Block(16, 16), Block(16, 16), Block(16, 32, 2), Branches(32), Block(16, 16))
        self.fc = nn.Linear(16, 10)
        self.mix_batch = mix_batch

    def forward(self, x):
        x = F.max_pool2d(self.stem(x), 2)
        x = self.blocks[1](self.blocks[0](x))
        if self.mix_batch:  # depends on the other images: must never run a chunk at a time
            x = x - x.mean(0, keepdim=True)
        for b in self.blocks[2:]:
            x = b(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# One image: the stem reads 48 KB and writes 256 KB (16 x 64 x 64), the pool writes 64 KB, the
# first blocks' ops read two 64 KB maps and write one, the 32-channel blocks' 32 KB maps. With a
# 1280 KB cache: a 320 KB chunk budget, splitting where a batch of 8 passes 960 KB, so the stem
# and the first two blocks run one image at a time, the rest whole. The model's ops do ~2M
# multiply-adds an image, not 20M: the floor is lowered to match.
L3 = 1280 * KB
BATCH = 8


@pytest.fixture
def budget(monkeypatch):
    monkeypatch.setattr(micro_batch, "last_level_cache", lambda: L3)
    monkeypatch.setattr(micro_batch, "MIN_MACS_PER_OP", 100_000)
    return L3


def _model(**kw):
    torch.manual_seed(0)
    return randomize_batchnorm(SmallResNet(**kw)).eval()


def _regions(m):
    return [mod for mod in m.modules() if isinstance(mod, MicroBatch)]


def _input(n, channels_last=False):
    x = torch.randn(n, 3, 64, 64)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def _called(region: MicroBatch):
    return {n.target for n in region.region.graph.nodes if n.op == "call_module"}


def test_blocks_whose_maps_outgrow_the_budget_run_in_chunks(budget):
    fast = cnnfast.optimize(_model(), example_input=_input(BATCH), speed_check=False)
    regions = _regions(fast)
    assert len(regions) == 1, cnnfast.report(fast)
    assert regions[0].chunk == 1 and regions[0].writes_out  # ends in a block's conv: written in place
    called = _called(regions[0])
    assert any(t.startswith("stem") for t in called) and any(t.startswith("blocks.1.") for t in called)
    assert not any(t.startswith("blocks.2.") for t in called)
    assert any("micro_batch_0" in n for n in cnnfast.report(fast).notes)
    root = {n.target for n in fast.graph.nodes if n.op == "call_module"}
    assert "fc" in root and any(t.startswith("blocks.2.") for t in root)


def test_batch_one_example_keeps_the_graph(budget):
    assert not _regions(cnnfast.optimize(_model(), example_input=_input(1), speed_check=False))


def test_maps_that_fit_the_cache_are_not_split(monkeypatch):
    monkeypatch.setattr(micro_batch, "last_level_cache", lambda: 64 * 1024 * KB)
    monkeypatch.setattr(micro_batch, "MIN_MACS_PER_OP", 100_000)
    assert not _regions(cnnfast.optimize(_model(), example_input=_input(BATCH), speed_check=False))


def test_ops_doing_little_work_are_not_split(budget, monkeypatch):
    monkeypatch.setattr(micro_batch, "MIN_MACS_PER_OP", 20_000_000)
    assert not _regions(cnnfast.optimize(_model(), example_input=_input(BATCH), speed_check=False))


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("n", [1, 2, 4, 5])
def test_results_match_eager_for_any_batch(budget, n, channels_last):
    model = _model()
    fast = cnnfast.optimize(model, example_input=_input(BATCH), speed_check=False)
    whole = cnnfast.optimize(model, example_input=_input(BATCH), speed_check=False, skip_passes=["micro_batch"])
    assert _regions(fast) and not _regions(whole)
    x = _input(n, channels_last)
    x0 = x.clone()
    with torch.inference_mode():
        ref, got, unsplit = model(x), fast(x), whole(x)
    assert torch.equal(x, x0)
    assert rel_err(got, ref) <= MODEL_TOLERANCE
    assert rel_err(got, unsplit) <= 1e-6


def test_another_image_size_is_split_too(budget):
    # (the output's shape is then taken from the first chunk's result, copied in)
    model = _model()
    fast = cnnfast.optimize(model, example_input=_input(BATCH), speed_check=False)
    assert _regions(fast)
    x = torch.randn(5, 3, 40, 48)
    with torch.inference_mode():
        assert rel_err(fast(x), model(x)) <= MODEL_TOLERANCE


def test_region_ending_in_a_pool_copies_its_chunks(budget):
    torch.manual_seed(0)
    model = randomize_batchnorm(nn.Sequential(_cbr(3, 16, 3), nn.MaxPool2d(2), nn.Flatten(),
                                              nn.Linear(16 * 32 * 32, 4))).eval()
    fast = cnnfast.optimize(model, example_input=_input(BATCH), speed_check=False, skip_passes=["fuse_small_cnn"])
    regions = _regions(fast)
    assert len(regions) == 1 and not regions[0].writes_out
    x = _input(5)
    with torch.inference_mode():
        assert rel_err(fast(x), model(x)) <= MODEL_TOLERANCE


def test_an_op_that_mixes_images_ends_the_region(budget):
    model = _model(mix_batch=True)
    fast = cnnfast.optimize(model, example_input=_input(BATCH), speed_check=False)
    for region in _regions(fast):
        assert not any(n.op == "call_method" and n.target == "mean" for n in region.region.graph.nodes)
    x = _input(5)
    with torch.inference_mode():
        assert rel_err(fast(x), model(x)) <= MODEL_TOLERANCE


def test_scripted_result_splits_too(budget):
    model = _model()
    fast = cnnfast.optimize(model, example_input=_input(BATCH), speed_check=False, script=True)
    assert isinstance(fast, torch.jit.ScriptModule)
    x = _input(5, channels_last=True)
    with torch.inference_mode():
        assert rel_err(fast(x), model(x)) <= MODEL_TOLERANCE


def test_kernel_counts_are_per_layer_not_per_chunk(budget):
    model = _model()
    split = cnnfast.optimize(model, example_input=_input(BATCH), speed_check=False)
    whole = cnnfast.optimize(model, example_input=_input(BATCH), speed_check=False, skip_passes=["micro_batch"])
    assert sum(cnnfast.report(split).conv_kernels.values()) == sum(cnnfast.report(whole).conv_kernels.values())


def test_no_example_input_no_split(budget):
    assert not _regions(cnnfast.optimize(_model()))


def test_a_failure_is_undone_and_reported(budget, monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("injected")

    monkeypatch.setattr(micro_batch, "_replace", broken)
    model = _model()
    fast = cnnfast.optimize(model, example_input=_input(BATCH), speed_check=False)
    assert not _regions(fast)
    assert any("micro_batch failed" in why for _, why in cnnfast.report(fast).skipped)
    x = _input(3)
    with torch.inference_mode():
        assert rel_err(fast(x), model(x)) <= MODEL_TOLERANCE


@pytest.mark.parametrize("weights2,expected", [(90, [([0, 1, 2], 2)]),  # 10 + 10 + 90 <= 400: one region
                                                (390, [([0, 1], 2)])])  # 410 > 400: cut, [2] one op alone
def test_plan_joins_neighbours_at_their_smallest_chunk_while_the_filters_fit(monkeypatch, weights2, expected):
    monkeypatch.setattr(micro_batch, "MIN_MACS_PER_OP", 10)
    g = fx.Graph()
    nodes = [g.call_function(torch.relu, ()) for _ in range(9)]
    seg = micro_batch.Segment  # (nodes, working set, filters, multiply-adds per op)
    segs = [seg([nodes[0]], 100, 10, 50), seg([nodes[1]], 200, 10, 0), seg([nodes[2]], 100, weights2, 50),
            seg([nodes[3]], 100, 500, 50),  # filters over the budget: never split, and a cut
            seg([nodes[4]], 100, 10, 5), seg([nodes[5]], 100, 10, 5),  # 5 multiply-adds an op: too little
            seg([nodes[6]], 500, 10, 50),  # one image over the budget
            seg([nodes[7]], 50, 10, 50),  # 16 x 50 <= 1200: fits the cache whole
            seg([nodes[8]], 100, 10, 50)]  # one op alone
    # l3 = 1600: a chunk budget of 400 bytes; at batch 16 a piece splits over 1200 / 16 = 75 bytes
    regions = micro_batch.plan(segs, batch=16, l3=1600)
    assert [([nodes.index(n) for n in r.nodes], r.chunk) for r in regions] == expected


class _Double(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, x, out=None):
        self.calls.append(x.shape[0])
        return x * 2


@pytest.mark.parametrize("n,chunk,calls", [(5, 2, [2, 2, 1]), (4, 4, [4]), (3, 8, [3]), (6, 1, [1] * 6)])
def test_micro_batch_module_chunks_and_copies(n, chunk, calls):
    region = _Double()
    m = MicroBatch(region, chunk, writes_out=False)
    x = torch.randn(n, 2, 3, 3).contiguous(memory_format=torch.channels_last)
    y = m(x)
    assert region.calls == calls
    assert torch.equal(y, x * 2)
    assert y.is_contiguous(memory_format=torch.channels_last)


def test_micro_batch_module_passes_unbatched_maps_through():
    region = _Double()
    x = torch.randn(5, 3, 3)
    assert torch.equal(MicroBatch(region, 1, writes_out=False)(x), x * 2) and region.calls == [5]


def test_micro_batch_module_needs_a_positive_chunk():
    with pytest.raises(ValueError, match="at least 1"):
        MicroBatch(_Double(), 0, writes_out=False)
