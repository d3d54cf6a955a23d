"""cnnfast.replay: a recorded forward reruns from C++ with the Python forward's results (the same
ops on the same tensors: bit for bit), for every signature it keeps; and it refuses, running
Python instead, wherever a replay could differ."""

import copy
import io
import pickle

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

import cnnfast
from cnnfast import _C
from cnnfast.replay import Replay, record
from tests._helpers import randomize_batchnorm, run_in_threads


def _calls(model, x, n=3):
    with torch.inference_mode():
        return [model(x) for _ in range(n)]


def _kept(replay: Replay):
    return [what for _, what in replay.replays() if what.startswith("replay")]


class _Inception(nn.Module):
    """Branches into one concat: optimize() writes each branch into the buffer's channel slice."""

    def __init__(self):
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(8, 8, 1), nn.BatchNorm2d(8), nn.ReLU())
        self.b = nn.Sequential(nn.Conv2d(8, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU())
        self.pool = nn.MaxPool2d(3, 1, 1)
        self.fc = nn.Linear(22, 5)

    def forward(self, x):
        y = torch.cat([self.a(x), self.b(x), self.pool(x)], 1)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))


MODELS = {
    "resnet18": lambda: torchvision.models.resnet18(num_classes=10),
    "mobilenet_v3_small": lambda: torchvision.models.mobilenet_v3_small(num_classes=10),
    "shufflenet_v2_x0_5": lambda: torchvision.models.shufflenet_v2_x0_5(num_classes=10),
    "densenet_tiny": lambda: torchvision.models.DenseNet(8, (2, 2), 16, num_classes=10),
    "inception_block": _Inception,
}


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_replayed_model_gives_the_python_forwards_result(name, channels_last):
    model = randomize_batchnorm(MODELS[name]()).eval()
    size = 8 if name == "inception_block" else 64
    fast = cnnfast.optimize(model, speed_check=False)
    assert isinstance(fast, Replay)
    for batch in (1, 3):
        # Two calls record, two replay: each on new data, against the Python forward on it.
        for _ in range(4):
            x = torch.randn(batch, 8 if name == "inception_block" else 3, size, size)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                expected = fast.module(x)
                torch.testing.assert_close(fast(x), expected, rtol=0, atol=0)
        with torch.inference_mode():
            ref = model(x)
        torch.testing.assert_close(expected, ref, rtol=1e-4, atol=1e-4 * ref.abs().max().item())
    assert len(_kept(fast)) == 2, fast.replays()  # one program per batch size


def test_replay_releases_its_python_forward_for_the_kept_signatures(monkeypatch):
    model = torchvision.models.resnet18(num_classes=10).eval()
    fast = cnnfast.optimize(model, speed_check=False)
    x = torch.randn(1, 3, 32, 32)
    expected = _calls(fast, x)[-1]
    monkeypatch.setattr(fast.module, "forward", lambda *a: pytest.fail("the Python forward ran"))
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), expected, rtol=0, atol=0)


def test_a_replay_works_with_grad_mode_on_and_returns_no_graph():
    model = torchvision.models.resnet18(num_classes=10).eval()
    fast = cnnfast.optimize(model, speed_check=False)
    x = torch.randn(2, 3, 32, 32)
    ys = [fast(x) for _ in range(3)]
    assert _kept(fast) and not ys[-1].requires_grad
    torch.testing.assert_close(ys[-1], ys[0], rtol=0, atol=0)


class _Structured(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.register_buffer("table", torch.arange(4.0))

    def forward(self, x, y):
        a = self.conv(x)
        return {"a": a, "pair": (a.relu(), y), "table": self.table, "n": 7, "split": torch.split(a, 2, 1)}


def test_outputs_keep_their_structure_inputs_and_constants():
    model = _Structured().eval().requires_grad_(False)
    r = Replay(model)
    x, y = torch.randn(2, 3, 5, 5), torch.randn(3)
    outs = [r(x, y) for _ in range(3)]
    assert _kept(r)
    ref = model(x, y)
    for out in outs:
        assert out["n"] == 7 and out["pair"][1] is y and out["table"] is model.table
        torch.testing.assert_close(out["a"], ref["a"], rtol=0, atol=0)
        torch.testing.assert_close(out["pair"][0], ref["pair"][0], rtol=0, atol=0)
        assert [tuple(s.shape) for s in out["split"]] == [(2, 2, 5, 5)] * 2
    y2 = torch.randn(3)
    assert r(x, y2)["pair"][1] is y2  # the input slot, not the recorded tensor


class _Branchy(nn.Module):
    def forward(self, x):
        return x * 2 if x.sum().item() > 0 else x - 1


class _Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x + self.calls  # a different constant every call


class _Numpy(nn.Module):
    def forward(self, x):
        return torch.from_numpy((x + 1).numpy()) * 2  # a tensor the dispatcher never made


@pytest.mark.parametrize("model, expect, reason", [
    (_Branchy(), lambda m, x: x * 2 if x.sum() > 0 else x - 1, "returns a Scalar"),
    (_Counter(), lambda m, x: x + (m.calls + 1), "changed between"),
    (_Numpy(), lambda m, x: (x + 1) * 2, "outside the dispatcher"),
])
def test_a_forward_a_replay_could_get_wrong_stays_in_python(model, expect, reason):
    r = Replay(model.eval())
    for x in [torch.randn(2, 3), -torch.ones(2, 3), torch.ones(2, 3)] * 2:
        expected = expect(model, x)
        torch.testing.assert_close(r(x), expected, rtol=0, atol=0)
    (what,) = [w for _, w in r.replays()]
    assert what.startswith("python") and reason in what, what


def test_module_hooks_keep_the_python_forward():
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU()).eval()
    seen = []
    model[0].register_forward_hook(lambda m, i, o: seen.append(1))
    r = Replay(model)
    _calls(r, torch.randn(1, 3, 4, 4))
    assert len(seen) == 3 and "hooks" in r.replays()[0][1]


def test_inputs_that_replay_does_not_take_run_in_python():
    model = nn.Sequential(nn.Conv2d(3, 4, 1)).eval()
    r = Replay(model)
    x = torch.randn(1, 3, 4, 4, requires_grad=True)
    assert r(x).requires_grad  # autograd as in eager: not replayed
    assert r(x.detach()).requires_grad  # the weights require grad, with grad mode on
    assert "requires grad" in r.replays()[0][1]
    with torch.no_grad():
        r(x.detach())
    assert r.replays()[1] == (((1, 3, 4, 4),), "recording (1 of 2 agreeing calls so far)")


def test_in_place_ops_on_inputs_and_aliases_replay_faithfully():
    class InPlace(nn.Module):
        def forward(self, x):
            v = x[:, :2]
            v.mul_(3)  # writes the caller's tensor, as eager does
            return torch.cat([x, v.relu_()], 1)

    r = Replay(InPlace())
    for _ in range(4):
        x = torch.randn(2, 4, 3)
        x0 = x.clone()
        out = r(x)
        ref_x = x0.clone()
        ref_x[:, :2] = (ref_x[:, :2] * 3).relu()  # relu_ writes through the view too
        torch.testing.assert_close(x, ref_x, rtol=0, atol=0)
        torch.testing.assert_close(out, torch.cat([ref_x, ref_x[:, :2]], 1), rtol=0, atol=0)
    assert _kept(r)


def test_threads_replay_one_program_at_once():
    model = randomize_batchnorm(torchvision.models.resnet18(num_classes=10)).eval()
    fast = cnnfast.optimize(model, speed_check=False)
    xs = [torch.randn(1, 3, 32, 32) for _ in range(4)]
    with torch.inference_mode():
        expected = [fast.module(x) for x in xs]
    _calls(fast, xs[0])
    errors = []

    def work(i):
        with torch.inference_mode():
            for _ in range(5):
                if not torch.equal(fast(xs[i]), expected[i]):
                    errors.append(i)

    run_in_threads(work)
    assert not errors and _kept(fast)


def test_copies_pickles_and_moves_record_afresh():
    model = torchvision.models.resnet18(num_classes=10).eval()
    fast = cnnfast.optimize(model, speed_check=False)
    x = torch.randn(1, 3, 32, 32)
    expected = _calls(fast, x)[-1]
    other = copy.deepcopy(fast)
    assert other.replays() == [] and other.module.fc.weight is not fast.module.fc.weight
    torch.testing.assert_close(_calls(other, x)[-1], expected, rtol=0, atol=0)
    assert _kept(other)
    # pickle re-traces an optimized GraphModule on loading: its concat buffers, slices and pools
    # must stay calls (cnnfast/passes/_graph.py's Tracer)
    block = cnnfast.optimize(randomize_batchnorm(_Inception()).eval(), speed_check=False)
    assert sum(cnnfast.report(block).fused.values()) > 0
    y = torch.randn(2, 8, 6, 6)
    expected_block = _calls(block, y)[-1]
    buf = io.BytesIO()
    torch.save(block, buf)
    buf.seek(0)
    for loaded in (pickle.loads(pickle.dumps(block)), torch.load(buf, weights_only=False)):
        assert isinstance(loaded, Replay) and loaded.replays() == []
        torch.testing.assert_close(_calls(loaded, y)[-1], expected_block, rtol=0, atol=0)
        assert _kept(loaded)
    fast.double()
    assert fast.replays() == []
    torch.testing.assert_close(_calls(fast, x.double())[-1].float(), expected, rtol=1e-4, atol=1e-5)


def test_the_wrapped_model_stays_reachable():
    model = torchvision.models.resnet18(num_classes=10).eval()
    fast = cnnfast.optimize(model, speed_check=False)
    assert fast.fc is fast.module.fc
    assert fast.state_dict().keys() == fast.module.state_dict().keys()
    assert "replay" in str(cnnfast.report(fast))
    assert not isinstance(cnnfast.optimize(model, replay=False), Replay)
    assert not isinstance(cnnfast.optimize(model, script=True), Replay)


def test_scripting_and_export_see_the_model_itself():
    model = torchvision.models.resnet18(num_classes=10).eval()
    fast = cnnfast.optimize(model, speed_check=False)
    x = torch.randn(1, 3, 32, 32)
    expected = _calls(fast, x)[-1]
    scripted = torch.jit.script(fast)
    with torch.inference_mode():
        torch.testing.assert_close(scripted(x), expected, rtol=1e-6, atol=1e-6)
    exported = torch.export.export(fast, (x,))
    with torch.inference_mode():
        torch.testing.assert_close(exported.module()(x), expected, rtol=1e-6, atol=1e-6)


class _Chain(nn.Module):
    """Counts, at its end, how many of its intermediate maps are still alive."""

    def forward(self, x):
        refs = []
        for _ in range(6):
            x = x + 1
            refs.append(x.untyped_storage()._weak_ref())
        self.alive = sum(not torch.UntypedStorage._expired(r) for r in refs)
        for r in refs:
            torch.UntypedStorage._free_weak_ref(r)
        return x


def test_recording_frees_the_forwards_maps_as_python_does():
    chain = _Chain()
    chain(torch.randn(1000))
    assert chain.alive == 1
    out, program, reason = record(chain, (torch.randn(1000),))
    assert reason is None and program.program.steps == 6
    assert chain.alive == 1  # a recorder holding every map would make a VGG at batch 64 hold them all


def test_the_program_frees_each_value_after_its_last_reader():
    x = torch.randn(4, 4)
    out, program, reason = record(lambda t: (t + 1).relu().sum(0), (x,))
    assert reason is None
    assert program.program.op_names() == ["aten::add.Tensor", "aten::relu", "aten::sum.dim_IntList"]
    assert program.program.slots == 4
    torch.testing.assert_close(program((x,)), out, rtol=0, atol=0)


def test_the_recorder_checks_what_it_is_given():
    recorder = _C._OpRecorder([torch.ones(1)])
    with pytest.raises(RuntimeError, match="does not exist"):
        recorder.finish([5])
    program = _C._OpRecorder([torch.ones(1)]).finish([0])
    with pytest.raises(RuntimeError, match="takes 1 inputs"):
        program.run([])
