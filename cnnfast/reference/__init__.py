"""Plain-PyTorch references for every cnnfast op: the same math, unfused."""

from cnnfast.reference.conv2d_bias_act import conv2d_bias_act

__all__ = ["conv2d_bias_act"]
