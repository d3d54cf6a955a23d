"""A whole SE-ResNet block tail, relu(SE(x) + identity), at every SE-ResNet-50 stage shape (and the
MobileNetV3 SE shapes, without the residual), batch 1 and 8: the eager composition (mean, two 1x1
convs, ReLU, sigmoid, multiply, add, ReLU) vs cnnfast's SqueezeExciteScale as optimize() builds it
(squeeze -> excite -> scale with add + ReLU, written over x). The SE issue's target: >= 2x."""

import pytest
import torch
import torch.nn.functional as F

from benchmarks.se_shapes import SE_SHAPES, shape_id
from cnnfast.models.se_resnet import SqueezeExcite
from cnnfast.nn import SqueezeExciteScale

PROVIDERS = ["eager", "eager_cl", "cnnfast"]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("shape", SE_SHAPES, ids=[shape_id(s) for s in SE_SHAPES])
def test_se_block(benchmark, run, shape, batch, provider):
    label, c, hw, r = shape
    benchmark.group = f"se_block b{batch} {shape_id(shape)}"
    torch.manual_seed(0)
    se = SqueezeExcite(c, reduction=c // r).eval()
    residual = label.startswith("se_resnet")
    x, identity = torch.randn(batch, c, hw, hw), torch.randn(batch, c, hw, hw)
    if provider != "eager":
        x, identity = (t.contiguous(memory_format=torch.channels_last) for t in (x, identity))
    benchmark.extra_info.update(provider=provider, batch=batch)
    if provider == "cnnfast":
        fused = SqueezeExciteScale(se.fc1.weight, se.fc1.bias, se.fc2.weight, se.fc2.bias, "relu", "sigmoid",
                                   "relu" if residual else "none", inplace=True)
        run(lambda: fused(x, identity if residual else None))
    elif residual:
        run(lambda: F.relu(se(x) + identity))
    else:
        run(lambda: se(x))
