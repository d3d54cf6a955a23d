"""Plain-PyTorch references for every cnnfast op: the same math, unfused."""

from cnnfast.reference.conv1x1_depthwise import conv1x1_depthwise
from cnnfast.reference.conv1x1_depthwise_mean import conv1x1_depthwise_mean
from cnnfast.reference.conv2d_bias_act import conv2d_bias_act
from cnnfast.reference.conv2d_bias_act_out import conv2d_bias_act_out
from cnnfast.reference.conv2d_bias_act_mean import conv2d_bias_act_mean
from cnnfast.reference.linear_bias_act import linear_bias_act
from cnnfast.reference.max_pool2d import max_pool2d
from cnnfast.reference.max_pool2d_out import max_pool2d_out
from cnnfast.reference.preact_conv1x1 import preact_conv1x1
from cnnfast.reference.preact_conv1x1_out import preact_conv1x1_out
from cnnfast.reference.se_excite import se_excite
from cnnfast.reference.se_scale import se_scale
from cnnfast.reference.se_squeeze import se_squeeze
from cnnfast.reference.shuffle_channels import shuffle_channels
from cnnfast.reference.small_cnn import small_cnn
from cnnfast.reference.to_channels_last import to_channels_last

__all__ = ["conv1x1_depthwise", "conv1x1_depthwise_mean", "conv2d_bias_act", "conv2d_bias_act_mean", "conv2d_bias_act_out", "linear_bias_act", "max_pool2d", "max_pool2d_out", "preact_conv1x1", "preact_conv1x1_out", "se_excite",
           "se_scale", "se_squeeze", "shuffle_channels",
           "small_cnn", "to_channels_last"]
