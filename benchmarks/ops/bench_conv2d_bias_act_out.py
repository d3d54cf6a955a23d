"""conv2d_bias_act_out into a concat buffer slice vs what it replaces: conv2d_bias_act into a fresh
tensor followed by torch.cat's copy of it (here: copy_ into the slice), on GoogLeNet and DenseNet
branch convs, channels_last, batch 1 and 8."""

import pytest
import torch

# (name, C_in, C_out, kernel, padding, H, buffer channels, offset)
CONVS = [
    ("googlenet-3a-b2", 96, 128, 3, 1, 28, 256, 64),
    ("googlenet-4e-b4", 528, 128, 1, 0, 14, 832, 704),
    ("densenet121-block1-layer6", 128, 32, 3, 1, 56, 256, 224),
    ("densenet121-block3-layer24", 128, 32, 3, 1, 14, 1024, 992),
]
PROVIDERS = ["fresh_copy", "cnnfast"]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("conv", CONVS, ids=[c[0] for c in CONVS])
def test_conv2d_bias_act_out(benchmark, run, conv, batch, provider):
    name, c_in, c_out, k, p, h, total, offset = conv
    benchmark.group = f"conv_out b{batch} {name}"
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, c_in, h, h, generator=g).contiguous(memory_format=torch.channels_last)
    w, b = torch.randn(c_out, c_in, k, k, generator=g) / (c_in * k * k) ** 0.5, torch.randn(c_out, generator=g)
    buf = torch.empty(batch, total, h, h).contiguous(memory_format=torch.channels_last)
    out = buf[:, offset:offset + c_out]
    args = (x, w, b, [1, 1], [p, p], [1, 1], 1, None, "relu")
    benchmark.extra_info.update(provider=provider, batch=batch)
    if provider == "cnnfast":
        run(lambda: torch.ops.cnnfast.conv2d_bias_act_out(*args, out))
    else:
        run(lambda: out.copy_(torch.ops.cnnfast.conv2d_bias_act(*args)))
