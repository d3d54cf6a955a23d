"""The GPU-side choices: the GPU backend (per model with optimize(gpu_backend=...), per block with
cnnfast.config.gpu_backend(...)) routes the fused modules to Triton (checked on the CPU through
the interpreter via the modules' forward_triton), and CUDA graphs (on a GPU; on the CPU only
their clear refusal)."""

import copy

import pytest
import torch
import torchvision

import cnnfast
from cnnfast.nn import Conv2dBiasAct, LinearBiasAct, SqueezeExciteScale
from tests._helpers import DEVICE_BACKENDS, MODEL_TOLERANCE, TOLERANCE, randomize_batchnorm, rel_err

TRITON_DEVICES = [d for d, b in DEVICE_BACKENDS if b == "triton"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU (benchmarks/gpu_check.sh runs it)")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=["fp32", "fp16", "bf16"])
@pytest.mark.parametrize("residual", [False, True], ids=["plain", "residual"])
@pytest.mark.parametrize("geometry", [(64, 64, 3, 1, 1, 1), (64, 128, 1, 2, 0, 1), (128, 128, 3, 1, 1, 32)],
                         ids=["3x3", "1x1s2", "3x3g32"])
@pytest.mark.parametrize("batch", [1, 3])
def test_cudnn_backend_matches_reference(geometry, residual, dtype, batch):
    # gpu_backend="cudnn": conv + bias (+ residual) + ReLU as one cuDNN graph, against the float64
    # reference; both layouts of input, the module's output as eager's.
    from cnnfast.reference import conv2d_bias_act as reference

    cin, cout, k, stride, pad, groups = geometry
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(cin, cout, k, stride, pad, groups=groups).cuda()
    mod = Conv2dBiasAct(conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, groups, "relu").cuda().to(dtype)
    x = torch.randn(batch, cin, 14, 14, device="cuda", dtype=dtype)
    res = torch.randn(batch, cout, 14 // stride, 14 // stride, device="cuda", dtype=dtype) if residual else None
    ref = reference(x.double(), mod.weight.double(), mod.bias.double(), mod.stride, mod.padding, mod.dilation,
                    groups, res.double() if residual else None, "relu")
    mod.gpu_backend = "cudnn"
    for layout in (torch.contiguous_format, torch.channels_last):
        with torch.no_grad():
            out = mod(x.contiguous(memory_format=layout), res)
        assert out.dtype == dtype
        assert rel_err(out.double(), ref) <= TOLERANCE[dtype]


def test_cudnn_backend_leaves_cpu_tensors_to_the_cpu_kernels():
    model = randomize_batchnorm(torchvision.models.resnet18()).eval()
    fast = cnnfast.optimize(model, gpu_backend="cudnn")
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert rel_err(fast(x), model(x)) <= MODEL_TOLERANCE
        with cnnfast.config.gpu_backend("triton"):
            assert rel_err(fast(x), model(x)) <= MODEL_TOLERANCE


def test_gpu_backend_block_overrides_the_models_choice():
    from types import SimpleNamespace

    from cnnfast.nn._gpu_backend import cuda_backend

    on_gpu, on_cpu = SimpleNamespace(is_cuda=True), torch.zeros(1)
    assert cuda_backend("cudnn", on_gpu) == "cudnn" and cuda_backend("triton", on_cpu) == ""
    with cnnfast.config.gpu_backend("triton"):
        assert cuda_backend("cudnn", on_gpu) == "triton"
        with cnnfast.config.gpu_backend("cuda"):
            assert cuda_backend("cudnn", on_gpu) == "cuda"
        assert cuda_backend("cudnn", on_gpu) == "triton"
        assert cuda_backend("cudnn", on_cpu) == ""  # CPU tensors always take the C++ kernels
    assert cuda_backend("cudnn", on_gpu) == "cudnn"
    with pytest.raises(ValueError, match="gpu backend must be one of"):
        with cnnfast.config.gpu_backend("tensorrt"):
            pass


@pytest.mark.parametrize("device", TRITON_DEVICES)
def test_every_fused_module_has_a_matching_triton_path(device):
    # MobileNetV3 has all three fused modules: convs (depthwise too), SE blocks, a Linear head.
    model = randomize_batchnorm(torchvision.models.mobilenet_v3_small()).eval()
    fast = cnnfast.optimize(model).to(device)
    kinds = {type(m) for m in fast.modules()}
    assert {Conv2dBiasAct, SqueezeExciteScale, LinearBiasAct} <= kinds
    x = torch.randn(2, 3, 64, 64, device=device)
    with torch.no_grad():
        for m in fast.modules():
            if isinstance(m, (Conv2dBiasAct, SqueezeExciteScale, LinearBiasAct)):
                m.forward = m.forward_triton  # what gpu_backend="triton" selects for CUDA tensors
        out = fast(x)
        ref = model.to(device)(x)
    assert rel_err(out, ref) <= MODEL_TOLERANCE


@pytest.mark.parametrize("device", TRITON_DEVICES)
def test_densenet_modules_have_matching_triton_paths(device):
    # A small DenseNet: preact convs (with and without the transition's pool), convs writing into
    # concat buffers, the stem's max pool; every fused module through its Triton path.
    from cnnfast.nn import PreactConv1x1
    from cnnfast.nn.max_pool2d import _triton_max_pool2d

    torch.manual_seed(0)
    model = randomize_batchnorm(torchvision.models.DenseNet(growth_rate=8, block_config=(2, 2),
                                                            num_init_features=16, bn_size=2)).eval()
    fast = cnnfast.optimize(model).to(device)
    kinds = {type(m) for m in fast.modules()}
    assert {Conv2dBiasAct, PreactConv1x1} <= kinds
    x = torch.randn(2, 3, 32, 32, device=device)
    with torch.no_grad():
        ref = model.to(device)(x)
        for m in fast.modules():
            if isinstance(m, (Conv2dBiasAct, PreactConv1x1, LinearBiasAct)):
                m.forward = m.forward_triton
        out = fast(x)
        pooled = _triton_max_pool2d(x, [3, 3], [2, 2], [1, 1], False)
    assert rel_err(out, ref) <= MODEL_TOLERANCE
    assert torch.equal(pooled, torch.nn.functional.max_pool2d(x, 3, 2, 1))


@pytest.mark.parametrize("device", TRITON_DEVICES)
def test_lenet_has_a_matching_triton_path(device):
    from cnnfast import models
    from cnnfast.nn import SmallCNN

    model = models.get("lenet5").build().eval()
    fast = cnnfast.optimize(model).to(device)
    assert isinstance(fast, SmallCNN)
    x = torch.randn(3, 1, 32, 32, device=device)
    with torch.no_grad():
        assert rel_err(fast.forward_triton(x), model.to(device)(x)) <= MODEL_TOLERANCE


def test_cuda_graphs_refuse_a_cpu_model_clearly():
    model = cnnfast.optimize(torchvision.models.resnet18().eval())
    with pytest.raises(ValueError, match="CUDA"):
        cnnfast.optimize(torchvision.models.resnet18().eval(), cuda_graphs=True)
    if not torch.cuda.is_available():
        from cnnfast.cuda_graphs import CUDAGraphModel

        with pytest.raises(ValueError, match="CUDA"):
            CUDAGraphModel(model)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU (benchmarks/gpu_check.sh runs it)")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_cuda_graphs_replay_matches_eager(dtype):
    model = randomize_batchnorm(torchvision.models.resnet18()).eval().cuda().to(dtype)
    fast = cnnfast.optimize(copy.deepcopy(model), cuda_graphs=True)
    for batch in (1, 4, 1):  # a second shape gets its own graph; the first is replayed
        x = torch.randn(batch, 3, 64, 64, device="cuda", dtype=dtype)
        with torch.no_grad():
            out = fast(x)
            keep = out.clone()
            fast(torch.randn_like(x))  # outputs are fresh tensors: the earlier one is unchanged
            ref = model(x)
        assert torch.equal(out, keep)
        assert rel_err(out, ref) <= (MODEL_TOLERANCE if dtype == torch.float32 else 1e-2)
    assert len(fast.graphs) == 2


@pytest.mark.parametrize("dtype,tol", [(torch.bfloat16, 5e-2), (torch.float16, 1e-2)], ids=["bf16", "fp16"])
@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small"])
def test_half_precision_models_end_to_end(name, dtype, tol):
    # The GPU issue's half-precision path, on the CPU kernels here (fp16 through ATen's conv and
    # cnnfast's epilogue, bf16 through oneDNN); compared with the fp32 model (whole-model
    # tolerances of docs/optimize.md's table).
    model = randomize_batchnorm(getattr(torchvision.models, name)()).eval()
    fast = cnnfast.optimize(copy.deepcopy(model).to(dtype))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out = fast(x.to(dtype))
        ref = model(x)
    assert out.dtype == dtype
    assert rel_err(out.float(), ref) <= tol


GPU_MODELS = ["resnet50", "googlenet", "densenet121", "se_resnet50", "mobilenet_v3_large", "shufflenet_v2_x1_0", "inception_v3"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU (benchmarks/gpu_check.sh runs it)")
@pytest.mark.parametrize("name,dtype", [(n, d) for n in GPU_MODELS for d in (torch.float32, torch.float16, torch.bfloat16)
                                        # Random-init Inception-v3 reaches ~1e13, past fp16's
                                        # range: stock fp16 is all NaN there too (seen on an H200).
                                        if (n, d) != ("inception_v3", torch.float16)],
                         ids=lambda v: {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}.get(v, v))
@pytest.mark.parametrize("backend", ["cudnn", "cuda"])
def test_lecture_models_on_cuda(name, dtype, backend):
    # Every fused op and pass on the GPU at once (concat buffers, preact convs, SE, heads), in
    # channels_last as the GPU benchmark runs them. fp32 against fp32 eager within the model bar;
    # half types against fp32 eager, allowed up to twice stock PyTorch's own half-precision error
    # (at least 1e-2), since rounding, not the fusion, dominates there.
    from cnnfast import models

    torch.manual_seed(0)
    spec = models.get(name)
    model = randomize_batchnorm(spec.build()).eval().cuda()
    x = spec.example_input(2).cuda()
    fast = cnnfast.optimize(copy.deepcopy(model).to(dtype=dtype, memory_format=torch.channels_last),
                            gpu_backend=backend)
    xh = x.to(dtype).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        ref = model(x)
        out = fast(xh)
        stock = copy.deepcopy(model).to(dtype)(x.to(dtype))
    assert out.dtype == dtype
    if dtype == torch.float32:
        assert rel_err(out, ref) <= MODEL_TOLERANCE
    else:
        assert rel_err(out.float(), ref) <= max(1e-2, 2 * rel_err(stock.float(), ref))
