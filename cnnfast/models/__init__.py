"""The lecture architectures: a registry of constructors with random init and their input sizes."""

from cnnfast.models.lenet import LeNet5, lenet5, lenet5_modern
from cnnfast.models.registry import MODELS, ModelSpec, get
from cnnfast.models.se_resnet import se_resnet18, se_resnet50, se_resnext50_32x4d

__all__ = ["MODELS", "LeNet5", "ModelSpec", "get", "lenet5", "lenet5_modern", "se_resnet18",
           "se_resnet50", "se_resnext50_32x4d"]
