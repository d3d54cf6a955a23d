"""Plain-PyTorch references for every cnnfast op: the same math, unfused."""

from cnnfast.reference.conv2d_bias_act import conv2d_bias_act
from cnnfast.reference.linear_bias_act import linear_bias_act
from cnnfast.reference.se_excite import se_excite
from cnnfast.reference.se_scale import se_scale
from cnnfast.reference.se_squeeze import se_squeeze

__all__ = ["conv2d_bias_act", "linear_bias_act", "se_excite", "se_scale", "se_squeeze"]
