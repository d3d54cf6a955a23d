"""LeNet-5 (LeCun et al. 1998) as taught, and its modern ReLU/max-pool variant."""

import torch
import torch.nn as nn


class LeNet5(nn.Module):
    """Input (N, 1, 32, 32). C1: conv 5x5 -> 6@28x28; S2: 2x2 pooling -> 6@14x14; C3: conv 5x5 ->
    16@10x10; S4: 2x2 pooling -> 16@5x5; C5: 120 units (a 5x5 conv on the 5x5 map, i.e. fully
    connected); F6: 84 units; output: num_classes.

    classic (default): tanh and 2x2 average pooling, as in the paper (whose scaled tanh, trainable
    subsampling coefficients, partial C3 connections and RBF output are usually simplified away
    in teaching, as here). modern=True: ReLU and 2x2 max pooling.
    """

    def __init__(self, num_classes: int = 10, modern: bool = False):
        super().__init__()
        act = nn.ReLU if modern else nn.Tanh
        pool = nn.MaxPool2d if modern else nn.AvgPool2d
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5), act(), pool(2),      # C1, S2
            nn.Conv2d(6, 16, 5), act(), pool(2),     # C3, S4
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), act(),       # C5
            nn.Linear(120, 84), act(),               # F6
            nn.Linear(84, num_classes),              # output
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def lenet5(num_classes: int = 10) -> LeNet5:
    return LeNet5(num_classes)


def lenet5_modern(num_classes: int = 10) -> LeNet5:
    return LeNet5(num_classes, modern=True)
