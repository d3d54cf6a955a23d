"""Shared test helpers: the per-dtype tolerance table, random BatchNorm statistics, error metric."""

import pytest
import torch

import cnnfast  # noqa: F401  (loads the ops)

# Relative to the largest magnitude of the reference output. fp32: oneDNN's blocked summation
# order and BN folding differ from eager in the last bits (~1e-6 seen); fp64 is exact to ~1e-12;
# half types keep 8 (bf16) / 11 (fp16) mantissa bits and round every intermediate.
TOLERANCE = {
    torch.float64: 1e-10,
    torch.float32: 1e-5,
    torch.bfloat16: 2e-2,
    torch.float16: 4e-3,
}
MODEL_TOLERANCE = 1e-4  # whole fp32 models: the foundation issue's bar


def rel_err(out: torch.Tensor, ref: torch.Tensor) -> float:
    scale = ref.abs().max().double().clamp_min(1e-30)
    return ((out.double() - ref.double()).abs().max() / scale).item()


def randomize_batchnorm(model: torch.nn.Module, seed: int = 1) -> torch.nn.Module:
    """Give every BatchNorm non-trivial running stats and affine params, so folding is no identity."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            if m.running_mean is not None:
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            if m.affine:
                m.weight.data.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.data.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return model


@pytest.fixture(autouse=True)
def _two_threads():
    # CI has 2 cores; oversubscription only adds noise.
    old = torch.get_num_threads()
    torch.set_num_threads(min(2, old))
    yield
    torch.set_num_threads(old)
