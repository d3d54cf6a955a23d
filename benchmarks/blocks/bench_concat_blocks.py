"""Concatenating blocks, batch 1 and 8: torchvision's GoogLeNet Inception 3a / 4e, Inception-v3's
A (Mixed_5b) and E (Mixed_7b) blocks, and DenseNet-121's first and third dense blocks (with the
transition after them), eager vs channels_last eager vs cnnfast.optimize() of the block alone
(sibling 1x1 convs merged, branches written into one concat buffer, BN+ReLU+1x1 fused)."""

import pytest
import torch
from torchvision.models.densenet import _DenseBlock, _Transition
from torchvision.models.googlenet import Inception
from torchvision.models.inception import InceptionA, InceptionE

import cnnfast
from cnnfast.testing import randomize_batchnorm

PROVIDERS = ["eager", "eager_cl", "cnnfast"]


class DenseStage(torch.nn.Sequential):
    """A dense block and the transition after it, as in DenseNet-121's features."""

    def __init__(self, layers, c_in):
        c_out = c_in + 32 * layers
        super().__init__(_DenseBlock(layers, c_in, bn_size=4, growth_rate=32, drop_rate=0),
                         _Transition(c_out, c_out // 2))


# name -> (constructor, input (C, H, W))
BLOCKS = {
    "googlenet-3a": (lambda: Inception(192, 64, 96, 128, 16, 32, 32), (192, 28, 28)),
    "googlenet-4e": (lambda: Inception(528, 256, 160, 320, 32, 128, 128), (528, 14, 14)),
    "inception_v3-A": (lambda: InceptionA(192, pool_features=32), (192, 35, 35)),
    "inception_v3-E": (lambda: InceptionE(1280), (1280, 8, 8)),
    "densenet121-block1": (lambda: DenseStage(6, 64), (64, 56, 56)),
    "densenet121-block3": (lambda: DenseStage(24, 256), (256, 14, 14)),
}
_cache = {}


def _block(name, provider):
    key = (name, provider)
    if key not in _cache:
        torch.manual_seed(0)
        block = randomize_batchnorm(BLOCKS[name][0]()).eval()
        if provider == "cnnfast":
            block = cnnfast.optimize(block)
        elif provider == "eager_cl":
            block = block.to(memory_format=torch.channels_last)
        _cache.clear()
        _cache[key] = block
    return _cache[key]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("name", list(BLOCKS))
def test_concat_block(benchmark, run, name, batch, provider):
    benchmark.group = f"concat_block b{batch} {name}"
    block = _block(name, provider)
    x = torch.randn(batch, *BLOCKS[name][1])
    if provider != "eager":
        x = x.contiguous(memory_format=torch.channels_last)
    benchmark.extra_info.update(provider=provider, batch=batch)
    run(lambda: block(x))
