"""The real conv layers of the lecture models, read off the models by running them once."""

import torch
import torch.nn as nn
import torchvision

# (model, input size) whose conv shapes the op benchmarks cover, per the foundation issue.
SOURCES = {"resnet50": 224, "vgg16": 224, "googlenet": 224}


def conv_layers(model_name: str, size: int):
    """Unique (C_in, C_out, k, stride, padding, groups, H, W, has_bias) of every Conv2d, in order."""
    kwargs = {"aux_logits": False, "init_weights": False} if model_name == "googlenet" else {}
    model = getattr(torchvision.models, model_name)(**kwargs).eval()
    seen, shapes = set(), []

    def hook(m, inputs, _):
        h, w = inputs[0].shape[2:]
        key = (m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0], m.groups,
               h, w, m.bias is not None)
        if key not in seen:
            seen.add(key)
            shapes.append(key)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for handle in handles:
        handle.remove()
    return shapes


def all_conv_layers():
    out = []
    for name, size in SOURCES.items():
        out += [(name, s) for s in conv_layers(name, size)]
    return out


def lecture_conv_layers(models=None):
    """Distinct conv geometries of the lecture models (cnnfast.models.registry) at their design
    input size: [(model, (Cin, Cout, (R, S), stride, padding, dilation, groups, H, W))], in order,
    each geometry once (under the first model that has it)."""
    from cnnfast.models import registry

    seen, layers = set(), []
    for name in models or registry.MODELS:
        spec = registry.get(name)
        model = spec.build().eval()

        def hook(m, inputs, _, name=name):
            h, w = inputs[0].shape[2:]
            key = (m.in_channels, m.out_channels, tuple(m.kernel_size), tuple(m.stride), tuple(m.padding),
                   tuple(m.dilation), m.groups, int(h), int(w))
            if key not in seen:
                seen.add(key)
                layers.append((name, key))

        handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
        with torch.no_grad():
            model(spec.example_input(1))
        for handle in handles:
            handle.remove()
    return layers


def _fused_module_inputs(models, module_type, key):
    """key(module, input) of every call of a module_type module in optimize()'d models, at batch 1
    and the design size: [(model, key)], each key once (under the first model that has it), in order."""
    import cnnfast
    from cnnfast.models import registry

    seen, out = set(), []
    for name in models:
        spec = registry.get(name)
        fast = cnnfast.optimize(spec.build().eval(), speed_check=False)
        found = []
        handles = [m.register_forward_hook(lambda m, inputs, _: found.append(key(m, inputs[0])))
                   for m in fast.modules() if isinstance(m, module_type)]
        with torch.no_grad():
            fast(spec.example_input(1))
        for handle in handles:
            handle.remove()
        for k in found:
            if k not in seen:
                seen.add(k)
                out.append((name, k))
    return out


def _pair_key(m, x):
    """(C_in, C_mid, H, W, k, stride, padding, dilation, act1, act2) of a Conv1x1Depthwise or of the
    pair inside a Conv1x1DepthwiseMean, called on x."""
    pair = getattr(m, "pair", m)
    d = pair.depthwise
    return (x.shape[1], d.weight.shape[0], x.shape[2], x.shape[3], d.weight.shape[2], d.stride[0], d.padding[0],
            d.dilation[0], pair.act1, pair.act2)


def conv1x1_depthwise_pairs(models=("mobilenet_v3_large", "efficientnet_b0", "shufflenet_v2_x1_0")):
    """Every 1x1 -> depthwise pair optimize() turns into a Conv1x1Depthwise (or, before an SE block,
    a Conv1x1DepthwiseMean) in these lecture models: [(model, (C_in, C_mid, H, W, k, stride,
    padding, dilation, act1, act2))], each once (under the first model that has it), in order."""
    from cnnfast.nn import Conv1x1Depthwise, Conv1x1DepthwiseMean

    return _fused_module_inputs(models, (Conv1x1Depthwise, Conv1x1DepthwiseMean), _pair_key)


def conv1x1_depthwise_inputs(pair, batch: int):
    """Seeded random (x channels_last, w1, b1, w2, b2) for one pair of conv1x1_depthwise_pairs()."""
    cin, c, h, w, k = pair[:5]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, cin, h, w, generator=g).contiguous(memory_format=torch.channels_last)
    w1, b1 = torch.randn(c, cin, 1, 1, generator=g) / cin ** 0.5, torch.randn(c, generator=g)
    w2, b2 = torch.randn(c, 1, k, k, generator=g) / k, torch.randn(c, generator=g)
    return x, w1, b1, w2, b2


def se_squeeze_convs(models=("mobilenet_v3_large", "efficientnet_b0", "se_resnet50", "regnet_y_400mf")):
    """Every conv optimize() makes hand its output's channel means to the SE block after it
    (Conv2dBiasActMean) in these lecture models: [(model, (C_in, C_out, H, W, k, stride, padding,
    groups, act))], each once (under the first model that has it), in order."""
    from cnnfast.nn import Conv2dBiasActMean

    def key(m, x):
        c = m.conv
        return (x.shape[1], c.weight.shape[0], x.shape[2], x.shape[3], c.weight.shape[2], c.stride[0], c.padding[0],
                c.groups, c.act)

    return _fused_module_inputs(models, Conv2dBiasActMean, key)


def se_squeeze_pairs(models=("mobilenet_v3_large", "efficientnet_b0")):
    """Every 1x1 -> depthwise pair optimize() makes hand its output's channel means to the SE block
    after it (Conv1x1DepthwiseMean): as conv1x1_depthwise_pairs, those pairs only."""
    from cnnfast.nn import Conv1x1DepthwiseMean

    return _fused_module_inputs(models, Conv1x1DepthwiseMean, _pair_key)
