"""Every other torchvision classification model: optimize() fuses what it can and leaves the
output within 1e-4 of eager (batch 1, random init, random BN stats, zero-initialised heads made
non-zero so the comparison means something). The few multi-GB models are left out for CI time."""

import pytest
import torch
import torchvision

import cnnfast
from tests._helpers import MODEL_TOLERANCE, randomize_batchnorm, rel_err
from cnnfast.models import MODELS as DETAILED

TOO_BIG = {"vit_h_14", "vit_l_16", "vit_l_32", "regnet_y_128gf", "regnet_y_32gf", "regnet_y_16gf"}
OTHERS = [n for n in torchvision.models.list_models(module=torchvision.models)
          if n not in TOO_BIG and n not in DETAILED]


@pytest.mark.slow
@pytest.mark.parametrize("name", OTHERS)
def test_optimized_matches_eager(name):
    torch.manual_seed(0)
    model = randomize_batchnorm(torchvision.models.get_model(name)).eval()
    with torch.no_grad():
        for m in model.modules():  # ViT and friends zero-init their head: the output would be 0
            if isinstance(m, torch.nn.Linear) and not m.weight.any():
                m.weight.normal_(0, 0.02)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        ref = model(x)
        fast = cnnfast.optimize(model)
        out = fast(x)
    assert ref.abs().max() > 0
    assert rel_err(out, ref) <= MODEL_TOLERANCE
    assert sum(cnnfast.report(fast).fused.values()) > 0
