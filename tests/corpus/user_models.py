"""Models written the way users write them (functional ops, size arithmetic, hand-rolled SE and
shuffles), for the corpus test: the passes must recognise these spellings, not only the zoo's."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class FunctionalLeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(16 * 4 * 4, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        out = F.max_pool2d(F.relu(self.conv1(x)), 2)
        out = F.max_pool2d(F.relu(self.conv2(out)), 2)
        out = out.view(out.size(0), -1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(out)))))


class UserResidual(nn.Module):
    """A ResNet-style block written by hand with F.relu and +."""

    def __init__(self, c=8):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + x)


class SEBlock(nn.Module):
    """Squeeze-and-excitation as in many SENet ports: avg_pool2d over the whole map, 1x1 convs."""

    def __init__(self, c, r=4):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.fc1, self.fc2 = nn.Conv2d(c, c // r, 1), nn.Conv2d(c // r, c, 1)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        w = F.avg_pool2d(out, out.size(2))
        w = torch.sigmoid(self.fc2(F.relu(self.fc1(w))))
        return F.relu(out * w + x)


class PreActBlock(nn.Module):
    """Pre-activation ResNet block (He et al. 2016 v2) with a 1x1 bottleneck."""

    def __init__(self, c):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(c), nn.Conv2d(c, c // 2, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(c // 2), nn.Conv2d(c // 2, c, 3, padding=1, bias=False)

    def forward(self, x):
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return out + x


class ShuffleUnit(nn.Module):
    """ShuffleNet V2 unit as third-party code writes it: split by int(size * ratio), shuffle by
    unpacking x.size()."""

    def __init__(self, c, ratio=0.5):
        super().__init__()
        self.ratio, b = ratio, int(c * ratio)
        self.branch = nn.Sequential(nn.Conv2d(b, b, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True),
                                    nn.Conv2d(b, b, 3, padding=1, groups=b, bias=False), nn.BatchNorm2d(b),
                                    nn.Conv2d(b, b, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True))

    def forward(self, x):
        c = int(x.size(1) * self.ratio)
        out = torch.cat([x[:, :c], self.branch(x[:, c:])], 1)
        n, ch, h, w = out.size()
        return out.view(n, 2, ch // 2, h, w).permute(0, 2, 1, 3, 4).reshape(n, ch, h, w)


class DenseLayer(nn.Module):
    def __init__(self, c, growth, new_first):
        super().__init__()
        self.bn, self.conv, self.new_first = nn.BatchNorm2d(c), nn.Conv2d(c, growth, 3, padding=1, bias=False), new_first

    def forward(self, x):
        new = self.conv(F.relu(self.bn(x)))
        return torch.cat([new, x], 1) if self.new_first else torch.cat([x, new], 1)


class Net(nn.Module):
    """A stem, a body of user blocks, global pooling by size, a classifier."""

    def __init__(self, body, c_out):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.body, self.fc = body, nn.Linear(c_out, 10)

    def forward(self, x):
        out = self.body(self.stem(x))
        out = F.avg_pool2d(out, out.size()[2:])
        return self.fc(out.view(out.size(0), -1))


USER_MODELS = {
    "functional_lenet": (FunctionalLeNet, (1, 28, 28)),
    "se_resnet": (lambda: Net(nn.Sequential(SEBlock(16), SEBlock(16)), 16), (3, 16, 16)),
    "preact_resnet": (lambda: Net(nn.Sequential(PreActBlock(16), PreActBlock(16)), 16), (3, 16, 16)),
    "shufflenet": (lambda: Net(nn.Sequential(ShuffleUnit(16), ShuffleUnit(16)), 16), (3, 16, 16)),
    "densenet_new_first": (lambda: Net(nn.Sequential(*[DenseLayer(16 + 8 * i, 8, True) for i in range(3)]), 40),
                           (3, 16, 16)),
    "densenet_x_first": (lambda: Net(nn.Sequential(*[DenseLayer(16 + 8 * i, 8, False) for i in range(3)]), 40),
                         (3, 16, 16)),
}
