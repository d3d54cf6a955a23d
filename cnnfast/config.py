"""Runtime choices for optimized models: the GPU backend (per model, or scoped to a block) and,
for tests and benchmarks, which CPU conv kernel runs."""

import contextlib
import contextvars
from typing import Optional

GPU_BACKENDS = ("cuda", "triton", "cudnn")

# Which kernels the fused modules (Conv2dBiasAct, SqueezeExciteScale, LinearBiasAct, ...) run on
# CUDA tensors; CPU tensors always take the C++ kernels. Chosen per model when it is optimized,
# optimize(model, gpu_backend=...), and for a block of code with `with gpu_backend(...)`.
# - "cudnn" (default): convs with a ReLU as one cuDNN fused graph (conv + bias (+ residual) +
#   ReLU through ATen's cudnn_convolution_relu / cudnn_convolution_add_relu, no separate
#   epilogue kernel); everything else as "cuda". Measured on an H200 (benchmarks/results/
#   gpu_h200): as fast as "cuda" or faster in 15 of 16 model cases, up to 1.8x (ResNet-50 fp16
#   batch 32), within 5% in the other.
# - "cuda": the C++/CUDA kernels (cuDNN conv + cnnfast's epilogue kernel); the only ones
#   TorchScript and C++ (LibTorch) see, whatever is chosen here.
# - "triton": the Triton kernels in cnnfast/triton (eager and torch.compile).
DEFAULT_GPU_BACKEND = "cudnn"

_scoped_gpu_backend: contextvars.ContextVar = contextvars.ContextVar("cnnfast_gpu_backend", default=None)


def check_gpu_backend(name: str) -> None:
    if name not in GPU_BACKENDS:
        raise ValueError(f"cnnfast: gpu backend must be one of {', '.join(GPU_BACKENDS)}; got {name!r}")


@contextlib.contextmanager
def gpu_backend(name: str):
    """``with cnnfast.config.gpu_backend("triton"):`` runs every fused module's CUDA calls made in
    the block (in this thread or task) on that backend, whatever each model was optimized with;
    the models' own choices apply again after it."""
    check_gpu_backend(name)
    token = _scoped_gpu_backend.set(name)
    try:
        yield
    finally:
        _scoped_gpu_backend.reset(token)


def scoped_gpu_backend() -> Optional[str]:
    """The backend of the innermost `with gpu_backend(...)` block, or None outside one."""
    return _scoped_gpu_backend.get()


# The CPU kernels a conv2d_bias_act can take, in the order of the C++ enum
# (csrc/conv_engine/route.h). Which one runs is decided per layer shape by the routing rule in
# csrc/conv_engine/route.cpp; `conv_path_for` shows the decision and `force_conv_path` overrides it.
def _extension_module():
    from cnnfast._extension import require_extension

    require_extension()
    import cnnfast._C

    return cnnfast._C


CONV_PATHS = ("gemm", "depthwise", "pointwise", "engine", "onednn", "portable", "stem", "winograd", "grouped")  # csrc ConvPath order


CPU_VENDORS = ("other", "intel", "amd")  # csrc CpuVendor order


def _vendor_index(cpu) -> int:
    if cpu is None:
        return -1
    if cpu not in CPU_VENDORS:
        raise ValueError(f"cnnfast: cpu must be one of {', '.join(CPU_VENDORS)} or None; got {cpu!r}")
    return CPU_VENDORS.index(cpu)


def conv_engine_available() -> bool:
    """Whether cnnfast's own conv engine runs here: built against a torch with the brgemm
    microkernel and on a CPU with AVX2/AVX-512 (build_info()["conv_engine"])."""
    return bool(_extension_module()._conv_engine_available())


def cpu_vendor() -> str:
    """Whose cores the routing rule takes this CPU for: 'intel', 'amd' or 'other' (routed as AMD's);
    a few of its thresholds were measured on each (csrc/conv_engine/route.cpp)."""
    return _extension_module()._cpu_vendor()


def cpu_has_avx512() -> bool:
    """Whether the routing rule takes this CPU for one with AVX-512. Without it cnnfast's direct conv
    kernels, register-blocked for AVX-512, are left out (csrc/common/cpu_isa.h)."""
    return bool(_extension_module()._cpu_has_avx512())


def conv_path_for(x_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1, *,
                  dtype="float32", channels_last=True, onednn=None, cpu=None, avx512=None) -> str:
    """The CPU kernel cnnfast.ops.conv2d_bias_act runs for an input of ``x_shape`` (N, C, H, W) and a
    filter of ``weight_shape`` (K, C/groups, R, S): one of CONV_PATHS. ``onednn`` (default: whether
    this torch has oneDNN and it takes ``dtype``) says whether the oneDNN route can run it; ``cpu``
    ('intel', 'amd', 'other'; default: this CPU) whose cores to decide for, ``avx512`` (default:
    this CPU's) whether they have AVX-512.
    conv2d_bias_act_out takes the same kernel: the engine and the direct 1x1 kernel store into a
    concat buffer's channel slice in place, the others compute a temporary and copy it."""
    import torch

    if onednn is None:
        onednn = dtype in ("float32", "bfloat16") and torch.backends.mkldnn.is_available()
    geometry = _engine_geometry(x_shape, weight_shape, stride, padding, dilation, groups)
    return _extension_module()._conv_path(geometry, dtype == "float32", bool(channels_last), bool(onednn),
                                          _vendor_index(cpu), -1 if avx512 is None else int(bool(avx512)))


def engine_tiling(x_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1, *, threads=None) -> dict:
    """How the conv engine's direct loops cut this conv (arguments as for conv_path_for) into tasks
    for ``threads`` threads (default: torch's count), read from the running CPU's cache sizes:
    m_tile pixels per tile and m_tiles of them, output-channel blocks of 64 and the n_chunks runs
    they are split into, k_chunk reduction rows per microkernel call, and whether the row-taps
    loop or the column-taps loop (R x 1 filters; 1 x S ones on the transposed map: transposed) runs,
    row_tile output rows per task in either."""
    import torch

    geometry = _engine_geometry(x_shape, weight_shape, stride, padding, dilation, groups)
    return _extension_module()._engine_tiling(geometry, torch.get_num_threads() if threads is None else int(threads))


def _engine_geometry(x_shape, weight_shape, stride, padding, dilation, groups):
    """The 14 ints the extension's rule functions take: N, C, H, W, K, R, S, strides, paddings,
    dilations, groups."""
    from cnnfast.contracts.geometry import pair

    n, c, h, w = (int(v) for v in x_shape)
    k, _, r, s = (int(v) for v in weight_shape)
    (sh, sw), (ph, pw), (dh, dw) = pair(stride, "stride"), pair(padding, "padding"), pair(dilation, "dilation")
    return (n, c, h, w, k, r, s, sh, sw, ph, pw, dh, dw, int(groups))


def conv1x1_depthwise_fuses(x_shape, weight1_shape, weight2_shape, stride=1, *, threads=None) -> bool:
    """Whether cnnfast.ops.conv1x1_depthwise's CPU kernel fuses the pair for an fp32 channels_last
    input of ``x_shape`` (N, C, H, W), a 1x1 filter of ``weight1_shape`` (C_mid, C, 1, 1) and a
    depthwise filter of ``weight2_shape`` (C_mid, 1, kH, kW) on ``threads`` threads (default: torch's
    count); where it does not, the op runs the two convs as conv2d_bias_act calls."""
    import torch

    from cnnfast.contracts.geometry import pair

    n, _, h, w = (int(v) for v in x_shape)
    sh, _ = pair(stride, "stride")
    shape = (n, h, w, int(weight1_shape[0]), int(weight2_shape[2]), sh)
    return _extension_module()._conv1x1_depthwise_fuses(shape, torch.get_num_threads() if threads is None else threads)


class force_conv1x1_depthwise:
    """``with cnnfast.config.force_conv1x1_depthwise(True):`` makes cnnfast.ops.conv1x1_depthwise fuse
    every pair its CPU kernel can take (fp32 channels_last), whatever the rule says; ``False`` runs
    every pair as two conv2d_bias_act calls; ``None`` the rule. For tests and benchmarks;
    process-wide while the block runs, restored on exit."""

    def __init__(self, fuse):
        self.mode = -1 if fuse is None else int(bool(fuse))
        self.before = -1

    def __enter__(self):
        self.before = _extension_module()._force_conv1x1_depthwise(self.mode)
        return self

    def __exit__(self, *exc):
        _extension_module()._force_conv1x1_depthwise(self.before)
        return False


ENGINE_OFF = "no-engine"  # force_conv_path(ENGINE_OFF): the rule with the conv engine left out
RULE = "auto"  # force_conv_path(RULE): the routing rule (what runs when nothing is forced)


class _ProcessWideSetting:
    """A routing switch of cnnfast._C set for the duration of a with-block: `setter` (a function of
    the extension taking an int and returning the previous one) gets `self.index` on entry and the
    previous value back on exit."""

    setter = ""
    index = -1

    def __enter__(self):
        self.before = getattr(_extension_module(), self.setter)(self.index)
        return self

    def __exit__(self, *exc):
        getattr(_extension_module(), self.setter)(self.before)
        return False


class force_conv_path(_ProcessWideSetting):
    """``with cnnfast.config.force_conv_path("onednn"):`` runs every CPU conv2d_bias_act on that
    kernel wherever it can compute the layer (elsewhere the rule decides); ``"no-engine"`` runs
    the rule without the conv engine (the kernels it falls back to), ``"auto"`` the rule itself. For
    tests and benchmarks;
    process-wide while the block runs, restored on exit."""

    setter = "_force_conv_path"

    def __init__(self, name: str):
        special = {RULE: -1, ENGINE_OFF: -2}
        if name not in CONV_PATHS and name not in special:
            raise ValueError(f"cnnfast: conv path must be one of {', '.join(CONV_PATHS)}, {RULE!r} or "
                             f"{ENGINE_OFF!r}; got {name!r}")
        self.index = special[name] if name in special else CONV_PATHS.index(name)


class route_as(_ProcessWideSetting):
    """``with cnnfast.config.route_as("amd"):`` routes every CPU conv as the rule would on that
    vendor's cores ('intel', 'amd', 'other'), whatever this CPU is: to compare the two rules side by
    side on one machine, or to test either one's kernels anywhere. Process-wide while the block
    runs, restored on exit."""

    setter = "_route_vendor"

    def __init__(self, cpu: str):
        self.index = _vendor_index(cpu)


KERNEL_LEVELS = ("baseline", "avx2", "avx512")


def kernel_levels() -> tuple:
    """The x86-64 levels whose kernel builds this CPU can run, lowest first: ("baseline", "avx2")
    on an AVX2 CPU. cnnfast runs the highest; kernel_level() runs a lower one."""
    return KERNEL_LEVELS[:_extension_module()._cpu_level(own=True) + 1]


class kernel_level(_ProcessWideSetting):
    """``with cnnfast.config.kernel_level("avx2"):`` runs the kernels that are built once per
    x86-64 level (small_cnn) at that level, where this CPU's own would be higher: to test each
    build on one machine. A level above this CPU's is refused. Process-wide while the block runs,
    restored on exit."""

    setter = "_kernel_level"

    def __init__(self, level: str):
        if level not in KERNEL_LEVELS:
            raise ValueError(f"cnnfast: kernel level must be one of {', '.join(KERNEL_LEVELS)}; got {level!r}")
        if level not in kernel_levels():
            raise ValueError(f"cnnfast: this CPU runs kernel levels {', '.join(kernel_levels())}, not {level!r}")
        self.index = KERNEL_LEVELS.index(level)


class route_avx512(_ProcessWideSetting):
    """``with cnnfast.config.route_avx512(False):`` routes every CPU conv as the rule would on a CPU
    without AVX-512 (True: with it), whatever this CPU has: to test the rule of the other kind of
    machine anywhere. Process-wide while the block runs, restored on exit."""

    setter = "_route_avx512"

    def __init__(self, avx512: bool):
        self.index = int(bool(avx512))
