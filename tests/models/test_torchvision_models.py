"""Every lecture model in cnnfast.models (the torchvision ones the issues name, LeNet-5, VGG-16,
SE-ResNet-50): optimized output within 1e-4 of eager (random weights and random BN stats), input
untouched, TorchScript round trip, torch.compile."""

import copy
import io
import warnings

import pytest
import torch

import cnnfast
from cnnfast import models
from tests._helpers import MODEL_TOLERANCE, randomize_batchnorm, rel_err

MODELS = list(models.MODELS)


def build(name):
    torch.manual_seed(0)
    return randomize_batchnorm(models.get(name).build()).eval()


@pytest.fixture(scope="module", params=MODELS)
def case(request):
    name = request.param
    model = build(name)
    before = copy.deepcopy(model.state_dict())
    fast = cnnfast.optimize(model)
    x = models.get(name).example_input(2)
    with torch.no_grad():
        ref = model(x)
        out = fast(x)
    return dict(name=name, model=model, before=before, fast=fast, x=x, ref=ref, out=out)


@pytest.mark.slow
def test_matches_eager(case):
    assert rel_err(case["out"], case["ref"]) <= MODEL_TOLERANCE
    with torch.no_grad():  # batch 1 as well, through the same (already prepacked) model
        one = case["fast"](case["x"][:1])
    assert rel_err(one, case["ref"][:1]) <= MODEL_TOLERANCE
    assert sum(cnnfast.report(case["fast"]).fused.values()) > 0


@pytest.mark.slow
def test_input_model_unchanged(case):
    after = case["model"].state_dict()
    assert all(torch.equal(case["before"][k], after[k]) for k in case["before"])
    assert not any(isinstance(m, cnnfast.nn.Conv2dBiasAct) for m in case["model"].modules())


@pytest.mark.slow
@pytest.mark.parametrize("how", ["script", "trace"])
def test_torchscript_round_trip(case, how):
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # TorchScript's deprecation notices
        ts = torch.jit.script(case["fast"]) if how == "script" else torch.jit.trace(case["fast"], case["x"])
        buf = io.BytesIO()
        torch.jit.save(ts, buf)
        buf.seek(0)
        loaded = torch.jit.load(buf)
        out = loaded(case["x"])
    torch.testing.assert_close(out, case["out"], rtol=1e-6, atol=1e-6 * case["out"].abs().max().item())


@pytest.mark.slow
def test_torch_compile(case):
    torch._dynamo.reset()
    compiled = torch.compile(case["fast"])
    with torch.no_grad():
        out = compiled(case["x"])
    torch._dynamo.reset()
    assert rel_err(out, case["ref"]) <= MODEL_TOLERANCE


# Every SE block of the SE models is fused (the SE issue): SE-ResNet-50's four stage-opening blocks
# add their downsample conv's output through that conv's own residual post-op instead.
SE_BLOCKS = {"se_resnet50": {"squeeze-excite+add+relu": 12, "squeeze-excite": 4},
             "mobilenet_v3_large": {"squeeze-excite": 8}, "efficientnet_b0": {"squeeze-excite": 16},
             "regnet_y_400mf": {"squeeze-excite": 16}}


@pytest.mark.slow
def test_every_se_block_is_fused(case):
    fused = cnnfast.report(case["fast"]).fused
    assert {k: v for k, v in fused.items() if k.startswith("squeeze-excite")} == SE_BLOCKS.get(case["name"], {})


# The Inception/DenseNet issue: every Inception block's concatenation is built in place (GoogLeNet 9,
# Inception-v3 11), every DenseNet-121 layer writes its growth channels into its
# block's buffer, and every pre-activation BN+ReLU+1x1 is fused (58 layers, and 3 transitions with
# their 2x2 average pool moved ahead of the conv). Parts made by a max pool (Inception-v3's grid
# reductions, DenseNet's stem) or a transition (the next dense block's first features) are
# written in place too: no part is copied into a buffer.
CONCAT = {
    # every branch ends in a conv that writes its slice; the reduce convs feed convs, so no block's
    # 1x1 convs are merged (fuse_sibling_convs)
    "googlenet": {"concat in place (1 cat)": 9, "conv writes into concat": 36},
    # the two E blocks' outputs hold two inner cats each, built as views of the same buffer
    "inception_v3": {"concat in place (1 cat)": 9, "concat in place (3 cats)": 2, "conv writes into concat": 44,
                     "max pool writes into concat": 2},
    "densenet121": {"concat in place (7 cats)": 1, "concat in place (13 cats)": 1, "concat in place (25 cats)": 1,
                    "concat in place (17 cats)": 1, "conv writes into concat": 58, "bn+relu+conv1x1": 58,
                    "bn+relu+conv1x1+avgpool": 3, "bn+relu+conv1x1 writes into concat": 3,
                    "max pool writes into concat": 1},
}


@pytest.mark.slow
def test_every_concat_block_is_fused(case):
    fused = cnnfast.report(case["fast"]).fused
    keys = ("concat", "sibling", "conv writes", "bn+relu+conv1x1", "max pool writes")
    assert {k: v for k, v in fused.items() if k.startswith(keys) or "sibling" in k} == CONCAT.get(case["name"], {})
