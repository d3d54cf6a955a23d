"""Fused inference modules; each wraps cnnfast ops and is built from the modules it replaces."""

from cnnfast.nn.conv1x1_depthwise import Conv1x1Depthwise
from cnnfast.nn.conv1x1_depthwise_mean import Conv1x1DepthwiseMean
from cnnfast.nn.conv2d_bias_act import Conv2dBiasAct, fold_batchnorm
from cnnfast.nn.conv2d_bias_act_mean import Conv2dBiasActMean
from cnnfast.nn.linear_bias_act import LinearBiasAct
from cnnfast.nn.preact_conv1x1 import PreactConv1x1
from cnnfast.nn.shuffle_channels import ShuffleChannels
from cnnfast.nn.small_cnn import SmallCNN
from cnnfast.nn.squeeze_excite import SqueezeExciteScale

FUSED_MODULES = (Conv1x1Depthwise, Conv1x1DepthwiseMean, Conv2dBiasAct, Conv2dBiasActMean, LinearBiasAct, PreactConv1x1, ShuffleChannels, SmallCNN, SqueezeExciteScale)

__all__ = ["Conv1x1Depthwise", "Conv1x1DepthwiseMean", "Conv2dBiasAct", "Conv2dBiasActMean", "FUSED_MODULES", "LinearBiasAct", "PreactConv1x1", "ShuffleChannels", "SmallCNN", "SqueezeExciteScale", "fold_batchnorm"]
