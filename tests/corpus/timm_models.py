"""The timm models of the lecture's families that the corpus test optimizes (random weights,
pretrained=False), with the input size each is run at: the smallest its architecture takes,
so the whole corpus fits a 2-core budget."""

# name -> input height = width
TIMM_CORPUS = {
    "resnet18": 64, "resnet34": 64, "resnet50": 64, "resnet50d": 64, "resnet101": 64, "resnetv2_50": 64,
    "resnext50_32x4d": 64, "seresnet50": 64, "seresnext26d_32x4d": 64, "legacy_seresnet18": 64, "senet154": 64,
    "densenet121": 64, "dpn68": 64, "inception_v3": 75, "inception_v4": 75, "inception_resnet_v2": 75,
    "vgg11_bn": 64, "vgg16_bn": 64, "vgg16": 64, "mobilenetv2_100": 64, "mobilenetv3_large_100": 64,
    "mobilenetv3_small_100": 64, "efficientnet_b0": 64, "regnetx_002": 64, "regnety_004": 64, "ghostnet_100": 64,
    "res2net50_26w_4s": 64, "selecsls42b": 64, "dla34": 64, "hrnet_w18_small": 64, "mnasnet_100": 64,
    "rexnet_100": 64, "skresnet18": 64, "tresnet_m": 64, "cspresnet50": 64, "darknet53": 64,
}
