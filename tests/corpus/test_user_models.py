"""optimize() on user-style models (tests/corpus/user_models.py): exact results at batch 1 and 2
in both layouts, every conv fused, and the pass each spelling is meant to reach firing on it."""

import pytest
import torch

import cnnfast
from cnnfast.testing import randomize_batchnorm
from tests._helpers import MODEL_TOLERANCE, rel_err
from tests.corpus.user_models import USER_MODELS

# model -> a pattern its optimized form must contain, and the capture route
EXPECT = {
    "functional_lenet": ("small_cnn (whole network)", "fx"),
    "se_resnet": ("squeeze-excite+add+relu", "fx"),
    "preact_resnet": ("bn+relu+conv1x1", "fx"),
    "shufflenet": ("channel shuffle folded (cat + shuffle + chunk in one pass)", "shapes"),
    "densenet_new_first": ("concat in place (3 cats)", "fx"),
    "densenet_x_first": ("concat in place (3 cats)", "fx"),
}


@pytest.mark.parametrize("name", list(USER_MODELS))
def test_user_model(name):
    build, shape = USER_MODELS[name]
    model = randomize_batchnorm(build()).eval()
    fast = cnnfast.optimize(model, example_input=torch.randn(1, *shape))
    report = cnnfast.report(fast)
    pattern, route = EXPECT[name]
    assert pattern in {p for _, p in report.final}
    assert report.captures == [("<model>", route)]
    fused, total = report.coverage["Conv2d"]
    assert fused == total
    with torch.no_grad():
        for batch in (1, 2):
            for channels_last in (False, True):
                x = torch.randn(batch, *shape)
                if channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                assert rel_err(fast(x), model(x)) <= MODEL_TOLERANCE
