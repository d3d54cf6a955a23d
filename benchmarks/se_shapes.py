"""The squeeze-and-excitation shapes the SE benchmarks cover: every SE-ResNet-50 stage (reduction
16, as in the paper) and the widest and narrowest MobileNetV3-Large SE blocks."""

# (label, C, H=W, R)
SE_SHAPES = [
    ("se_resnet50-stage1", 256, 56, 16),
    ("se_resnet50-stage2", 512, 28, 32),
    ("se_resnet50-stage3", 1024, 14, 64),
    ("se_resnet50-stage4", 2048, 7, 128),
    ("mobilenet_v3-first", 72, 28, 24),
    ("mobilenet_v3-last", 960, 7, 240),
]


def shape_id(shape):
    label, c, hw, r = shape
    return f"{label}-{c}x{hw}x{hw}-r{r}"
