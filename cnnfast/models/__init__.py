"""The lecture architectures: a registry of constructors with random init and their input sizes."""

from cnnfast.models.registry import MODELS, ModelSpec, get

__all__ = ["MODELS", "ModelSpec", "get"]
