"""cnnfast.models: LeNet-5's layer shapes against the paper, SE-ResNet's structure, the registry."""

import pytest
import torch
import torch.nn as nn

import cnnfast
from cnnfast import models
from cnnfast.testing import randomize_batchnorm, rel_err
from tests._helpers import MODEL_TOLERANCE


@pytest.mark.parametrize("builder", [models.lenet5, models.lenet5_modern])
def test_lenet5_layer_shapes_follow_the_paper(builder):
    model = builder().eval()
    shapes = []
    hooks = [m.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[1:])))
             for m in model.modules() if isinstance(m, (nn.Conv2d, nn.AvgPool2d, nn.MaxPool2d, nn.Linear))]
    with torch.no_grad():
        out = model(torch.randn(2, 1, 32, 32))
    for h in hooks:
        h.remove()
    # C1 6@28x28, S2 6@14x14, C3 16@10x10, S4 16@5x5, C5 120, F6 84, output 10
    assert shapes == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120,), (84,), (10,)]
    assert out.shape == (2, 10)
    kinds = {type(m) for m in model.modules()}
    assert (nn.Tanh in kinds and nn.AvgPool2d in kinds) != (nn.ReLU in kinds and nn.MaxPool2d in kinds)


@pytest.mark.parametrize("builder,params,blocks", [(models.se_resnet18, 11.78e6, 8),
                                                   (models.se_resnet50, 28.09e6, 16),
                                                   (models.se_resnext50_32x4d, 27.56e6, 16)])
def test_se_resnets_follow_the_paper(builder, params, blocks):
    model = randomize_batchnorm(builder(num_classes=1000)).eval()
    ses = [m for m in model.modules() if type(m).__name__ == "SqueezeExcite"]
    assert len(ses) == blocks
    assert all(se.fc1.out_channels == se.fc1.in_channels // 16 for se in ses)  # reduction 16
    assert abs(sum(p.numel() for p in model.parameters()) - params) / params < 0.01  # paper: 28.1M for 50
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert rel_err(cnnfast.optimize(model)(x), model(x)) <= MODEL_TOLERANCE
    assert builder(num_classes=7)(x).shape == (2, 7)


def test_registry_builds_every_model_with_its_input():
    for name, spec in models.MODELS.items():
        assert spec.example_input(1).shape == (1, spec.channels, spec.input_size, spec.input_size), name
    with pytest.raises(KeyError, match="unknown model 'lenet9'"):
        models.get("lenet9")
