"""Fused inference modules; each wraps one cnnfast op and is built from the modules it replaces."""

from cnnfast.nn.conv2d_bias_act import Conv2dBiasAct, fold_batchnorm

__all__ = ["Conv2dBiasAct", "fold_batchnorm"]
