"""SE-ResNet and SE-ResNeXt (Hu et al. 2017): torchvision's ResNet with a squeeze-and-excitation
block (reduction 16) on each residual branch, applied before the shortcut addition."""

from typing import Any

import torch
import torch.nn as nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet


class SqueezeExcite(nn.Module):
    """x * sigmoid(fc2(relu(fc1(mean_hw(x))))) with 1x1 convs as the FCs, as in the paper."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        return x * self.gate(self.fc2(self.relu(self.fc1(s))))


class SEBasicBlock(BasicBlock):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.se = SqueezeExcite(self.bn2.num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        return self.relu(out + identity)


class SEBottleneck(Bottleneck):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.se = SqueezeExcite(self.bn3.num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.se(self.bn3(self.conv3(out)))
        return self.relu(out + identity)


def se_resnet18(**kwargs: Any) -> ResNet:
    return ResNet(SEBasicBlock, [2, 2, 2, 2], **kwargs)


def se_resnet50(**kwargs: Any) -> ResNet:
    return ResNet(SEBottleneck, [3, 4, 6, 3], **kwargs)


def se_resnext50_32x4d(**kwargs: Any) -> ResNet:
    return ResNet(SEBottleneck, [3, 4, 6, 3], groups=32, width_per_group=4, **kwargs)
