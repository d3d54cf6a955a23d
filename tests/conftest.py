"""Process settings and fixtures for the whole suite (Triton's interpreter without a GPU, TF32
off, hypothesis profiles, two threads, no timing-dependent optimize()). Shared helpers live in
tests/_helpers.py."""

import os

# Triton kernels run on the CPU through Triton's interpreter where there is no GPU. Triton reads
# this when it is imported (torchvision imports it), so it is set before anything imports torch.
if not os.path.exists("/dev/nvidia0"):
    os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import settings  # noqa: E402


import cnnfast  # noqa: F401,E402  (loads the ops)

# On a GPU, cuDNN and cuBLAS run fp32 convolutions and matmuls in TF32 by default (10-bit
# mantissa, ~1e-3 relative): the fp32 bars are for fp32 arithmetic, so the tests turn TF32
# off (tests/_helpers.TOLERANCE). The CUDA ops go through ATen's cuDNN calls and follow whatever a user chooses here.
if torch.cuda.is_available():
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False

# Property-based tests: a quick search in CI, the same examples on every run (derandomized: a
# random search once found float32 cancellation cases, a mean of +-5 values near 0, just past
# the tolerance, and failed a run); a deep random one with HYPOTHESIS_PROFILE=long.
settings.register_profile("ci", max_examples=400, deadline=None, derandomize=True)
settings.register_profile("long", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _no_speed_check(monkeypatch):
    # optimize(example_input=...) may return the original when it measures the optimized model
    # slower (cnnfast.speed_check): tests of what was fused must not depend on timing.
    # tests/test_speed_check.py tests the check itself.
    import cnnfast.speed_check

    monkeypatch.setattr(cnnfast.speed_check, "TIMED_BELOW_S", 0.0)


@pytest.fixture(autouse=True)
def _two_threads():
    # CI has 2 cores; oversubscription only adds noise.
    old = torch.get_num_threads()
    torch.set_num_threads(min(2, old))
    yield
    torch.set_num_threads(old)


@pytest.fixture
def routed_as_avx512():
    """The routing rule as on a CPU with AVX-512, for the test: the direct kernels' own tests reach
    them wherever the rule would there, so their AVX2 clones are checked on CPUs without AVX-512
    too, where the rule leaves them out (csrc/common/cpu_isa.h)."""
    from cnnfast import config

    with config.route_avx512(True):
        yield


@pytest.fixture(params=("baseline", "avx2", "avx512"))
def kernel_level(request):
    """The test runs on the kernels' build for each x86-64 level (common/cpu_levels.h): 16-lane
    vectors with AVX-512, 8 with AVX2, 4 below. Levels above this CPU's are skipped: a CPU runs its
    own level's build and every lower one, so each machine checks what it can execute."""
    from cnnfast import config

    if request.param not in config.kernel_levels():
        pytest.skip(f"this CPU cannot run {request.param} code")
    with config.kernel_level(request.param):
        yield request.param


@pytest.fixture
def threads(request):
    """torch's thread count set to the test's parameter (parametrize it with indirect=True),
    restored after: kernels that split work between threads are tested at several counts."""
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)
