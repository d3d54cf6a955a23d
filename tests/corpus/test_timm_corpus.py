"""optimize() on models this project did not write: timm's lecture-family models (random weights,
randomised BatchNorm statistics), each at batch 1 and 2, NCHW and channels_last, against eager.

The whole list runs under `pytest -m corpus` (a few minutes); the default suite takes one model
per capture route and family kind. Speed against eager is measured by
benchmarks/corpus_speed.py, not here."""

import warnings

import pytest
import torch

import cnnfast
from cnnfast.testing import randomize_batchnorm
from tests._helpers import MODEL_TOLERANCE, rel_err
from tests.corpus.timm_models import TIMM_CORPUS

timm = pytest.importorskip("timm")

QUICK = ("resnet18", "vgg11_bn", "mobilenetv3_small_100", "dla34")


def _cases():
    for name in TIMM_CORPUS:
        marks = [] if name in QUICK else [pytest.mark.corpus]
        yield pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", _cases())
def test_timm_model(name):
    size = TIMM_CORPUS[name]
    model = randomize_batchnorm(timm.create_model(name, pretrained=False)).eval()
    fast = cnnfast.optimize(model, example_input=torch.randn(1, 3, size, size))
    report = cnnfast.report(fast)
    fused, total = report.coverage["Conv2d"]
    assert fused == total, report.unfused
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no guard fallback at another batch size
        warnings.filterwarnings("ignore", category=UserWarning, module="timm")
        for batch in (1, 2):
            for channels_last in (False, True):
                x = torch.randn(batch, 3, size, size)
                if channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                assert rel_err(fast(x), model(x)) <= MODEL_TOLERANCE
