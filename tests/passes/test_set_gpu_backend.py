"""set_gpu_backend (optimize's finishing step): the model's GPU backend reaches every fused module
and every max_pool2d call of its graphs, and stays that model's own."""

import pytest
import torch
import torchvision

import cnnfast


def test_gpu_backend_is_chosen_per_model():
    from cnnfast.nn.max_pool2d import max_pool2d

    with pytest.raises(ValueError, match="gpu backend must be one of"):
        cnnfast.optimize(torchvision.models.googlenet(init_weights=True).eval(), gpu_backend="tensorrt")
    assert cnnfast.config.DEFAULT_GPU_BACKEND == "cudnn"  # the measured-fastest default (cnnfast/config.py)
    model = torchvision.models.googlenet(init_weights=True).eval()
    default, triton = cnnfast.optimize(model), cnnfast.optimize(model, gpu_backend="triton")

    def choices(m):
        fused = {c.gpu_backend for c in m.modules() if hasattr(c, "gpu_backend")}
        pools = {n.kwargs.get("gpu_backend", cnnfast.config.DEFAULT_GPU_BACKEND)
                 for g in m.modules() if isinstance(g, torch.fx.GraphModule)
                 for n in g.graph.nodes if n.op == "call_function" and n.target is max_pool2d}
        return fused, pools

    assert choices(default) == ({"cudnn"}, {"cudnn"})
    assert choices(triton) == ({"triton"}, {"triton"})  # the max pools' calls too
    assert choices(cnnfast.optimize(model)) == ({"cudnn"}, {"cudnn"})  # one model's choice stays its own
