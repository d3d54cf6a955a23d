"""cnnfast's fused ops as typed Python functions; each calls torch.ops.cnnfast.<op>."""

from cnnfast.contracts.activations import ACTIVATIONS
from cnnfast.ops.conv1x1_depthwise import conv1x1_depthwise
from cnnfast.ops.conv1x1_depthwise_mean import conv1x1_depthwise_mean
from cnnfast.ops.conv2d_bias_act import conv2d_bias_act
from cnnfast.ops.conv2d_bias_act_out import conv2d_bias_act_out
from cnnfast.ops.conv2d_bias_act_mean import conv2d_bias_act_mean
from cnnfast.ops.linear_bias_act import linear_bias_act
from cnnfast.ops.max_pool2d import max_pool2d
from cnnfast.ops.max_pool2d_out import max_pool2d_out
from cnnfast.ops.preact_conv1x1 import preact_conv1x1
from cnnfast.ops.preact_conv1x1_out import preact_conv1x1_out
from cnnfast.ops.se_excite import se_excite
from cnnfast.ops.se_scale import se_scale, se_scale_
from cnnfast.ops.se_squeeze import se_squeeze
from cnnfast.ops.shuffle_channels import shuffle_channels
from cnnfast.ops.small_cnn import small_cnn
from cnnfast.ops.to_channels_last import to_channels_last

__all__ = ["ACTIVATIONS", "conv1x1_depthwise", "conv1x1_depthwise_mean", "conv2d_bias_act", "conv2d_bias_act_mean", "conv2d_bias_act_out", "linear_bias_act", "max_pool2d", "max_pool2d_out", "preact_conv1x1", "preact_conv1x1_out",
           "se_excite", "se_scale", "se_scale_", "se_squeeze", "shuffle_channels",
           "small_cnn", "to_channels_last"]
