"""cnnfast's fused ops as typed Python functions; each calls torch.ops.cnnfast.<op>."""

from cnnfast.ops._activations import ACTIVATIONS
from cnnfast.ops.conv2d_bias_act import conv2d_bias_act

__all__ = ["ACTIVATIONS", "conv2d_bias_act"]
