"""Shared test helpers: the per-dtype tolerance table, random BatchNorm statistics, error metric."""

import os

import pytest
import torch
from hypothesis import settings


import cnnfast  # noqa: F401  (loads the ops)
from cnnfast.testing import randomize_batchnorm, rel_err  # noqa: F401  (re-exported for tests)

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

# Property-based tests: a quick search in CI, a deep one with HYPOTHESIS_PROFILE=long.
settings.register_profile("ci", max_examples=400, deadline=None)
settings.register_profile("long", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _two_threads():
    # CI has 2 cores; oversubscription only adds noise.
    old = torch.get_num_threads()
    torch.set_num_threads(min(2, old))
    yield
    torch.set_num_threads(old)
