"""The lecture architectures by name: constructor (random init, no downloads) and input size."""

from dataclasses import dataclass
from typing import Callable, Dict

import torch
import torch.nn as nn
import torchvision

from cnnfast.models import lenet, se_resnet


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Callable[..., nn.Module]
    input_size: int  # square RGB input the architecture was designed for
    channels: int = 3

    def example_input(self, batch: int = 1, size: int = None, seed: int = 0) -> torch.Tensor:
        """A random (batch, channels, size, size) input, size defaulting to the design size."""
        size = size or self.input_size
        return torch.randn(batch, self.channels, size, size, generator=torch.Generator().manual_seed(seed))


def _tv(name: str, **fixed):
    def build(**kwargs):
        return getattr(torchvision.models, name)(weights=None, **{**fixed, **kwargs})
    return build


# torchvision's own implementations where it has them, random init. GoogLeNet/Inception-v3
# without the auxiliary classifiers, which only run in training mode anyway.
MODELS: Dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec("lenet5", lenet.lenet5, 32, channels=1),
        ModelSpec("lenet5_modern", lenet.lenet5_modern, 32, channels=1),
        ModelSpec("alexnet", _tv("alexnet"), 224),
        ModelSpec("vgg16", _tv("vgg16"), 224),
        ModelSpec("vgg16_bn", _tv("vgg16_bn"), 224),
        ModelSpec("googlenet", _tv("googlenet", aux_logits=False, init_weights=True), 224),
        ModelSpec("inception_v3", _tv("inception_v3", aux_logits=False, init_weights=True), 299),
        ModelSpec("resnet18", _tv("resnet18"), 224),
        ModelSpec("resnet50", _tv("resnet50"), 224),
        ModelSpec("resnext50_32x4d", _tv("resnext50_32x4d"), 224),
        ModelSpec("densenet121", _tv("densenet121"), 224),
        ModelSpec("se_resnet50", se_resnet.se_resnet50, 224),
        ModelSpec("shufflenet_v2_x1_0", _tv("shufflenet_v2_x1_0"), 224),
        ModelSpec("mobilenet_v3_large", _tv("mobilenet_v3_large"), 224),
        ModelSpec("efficientnet_b0", _tv("efficientnet_b0"), 224),
        ModelSpec("regnet_y_400mf", _tv("regnet_y_400mf"), 224),
    ]
}


def get(name: str) -> ModelSpec:
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    return MODELS[name]
