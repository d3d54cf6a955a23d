"""use_global_avg_pool: global average pools (nn.AdaptiveAvgPool2d / F.adaptive_avg_pool2d to 1x1)
become cnnfast's global_avg_pool2d (se_squeeze on the CPU); other output sizes and hooked pools stay
ATen's. Values against eager and float64, NaN/Inf as ATen's mean gives them, TorchScript."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import cnnfast
from cnnfast.nn.global_avg_pool import global_avg_pool2d
from tests._helpers import TOLERANCE, check_same, rel_err


def _pool_calls(model):
    return sum(n.op == "call_function" and n.target is global_avg_pool2d
               for g in model.modules() if isinstance(g, torch.fx.GraphModule) for n in g.graph.nodes)


def _head(pool):
    return nn.Sequential(nn.Conv2d(6, 24, 3, padding=1), nn.BatchNorm2d(24), nn.ReLU(), pool, nn.Flatten(),
                         nn.Linear(24, 5))


@pytest.mark.parametrize("pool", [nn.AdaptiveAvgPool2d(1), nn.AdaptiveAvgPool2d((1, 1))], ids=["1", "1x1"])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last], ids=["nchw", "nhwc"])
@pytest.mark.parametrize("batch", [1, 3])
def test_global_pools_are_replaced(pool, layout, batch):
    x = torch.randn(batch, 6, 7, 9).contiguous(memory_format=layout)
    assert _pool_calls(check_same(_head(pool), x)) == 1


class Functional(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.conv, self.size = nn.Conv2d(3, 8, 3), size

    def forward(self, x):
        return F.adaptive_avg_pool2d(self.conv(x), self.size)


@pytest.mark.parametrize("size", [1, (1, 1)])
def test_functional_pool_is_replaced(size):
    assert _pool_calls(check_same(Functional(size), torch.randn(2, 3, 10, 10))) == 1


@pytest.mark.parametrize("size", [(2, 2), (1, 3), 7])
def test_other_output_sizes_stay_with_aten(size):
    assert _pool_calls(check_same(Functional(size), torch.randn(2, 3, 10, 10))) == 0


def test_hooked_pool_is_left_alone():
    pool = nn.AdaptiveAvgPool2d(1)
    seen = []
    pool.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    fast = cnnfast.optimize(_head(pool).eval())
    assert _pool_calls(fast) == 0
    with torch.no_grad():
        fast(torch.randn(1, 6, 5, 5))
    assert seen == [torch.Size([1, 24, 1, 1])]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("shape", [(1, 960, 7, 7), (3, 33, 5, 4), (2, 16, 1, 1)])
def test_values_against_float64(shape, dtype):
    x = torch.randn(shape, dtype=torch.float64).to(dtype).contiguous(memory_format=torch.channels_last)
    out = global_avg_pool2d(x)
    assert out.shape == (shape[0], shape[1], 1, 1) and out.dtype == dtype
    assert rel_err(out, x.double().mean((2, 3), keepdim=True)) <= TOLERANCE[dtype]


def test_nan_and_inf_as_aten():
    x = torch.randn(2, 20, 6, 6).contiguous(memory_format=torch.channels_last)
    x[0, 3, 2, 2] = float("nan")
    x[0, 5, 1, 1] = float("inf")
    x[1, 7, 0, 0], x[1, 7, 5, 5] = float("inf"), float("-inf")
    x[1, 9, 4, 4] = float("-inf")
    torch.testing.assert_close(global_avg_pool2d(x), F.adaptive_avg_pool2d(x, 1), equal_nan=True)


def test_unbatched_and_empty_inputs_take_aten():
    x = torch.randn(6, 5, 5)
    torch.testing.assert_close(global_avg_pool2d(x), F.adaptive_avg_pool2d(x, 1))
    empty = torch.randn(2, 6, 0, 5)
    assert global_avg_pool2d(empty).shape == F.adaptive_avg_pool2d(empty, 1).shape


def test_torchscript():
    model = _head(nn.AdaptiveAvgPool2d(1)).eval()
    x = torch.randn(2, 6, 7, 7)
    fast = cnnfast.optimize(model, script=True)
    assert isinstance(fast, torch.jit.ScriptModule)
    with torch.no_grad():
        assert rel_err(fast(x), model(x)) <= TOLERANCE[torch.float32]
