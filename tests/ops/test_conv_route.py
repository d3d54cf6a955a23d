"""The CPU kernel routing rule of conv2d_bias_act (csrc/conv_engine/route.cpp): one test per
decision, on real layer shapes, through cnnfast.config.conv_path_for; and the forced path that
tests and benchmarks use. The rule is asked for AMD's cores with AVX-512 unless a test says
otherwise, so each decision is checked on any machine; the Intel-only thresholds and the rule
without AVX-512 have their own tests."""

import os

import pytest
import torch

import cnnfast
from cnnfast import config
from tests._helpers import CPU_HAS_AVX512, grouped_kernel_runs

ENGINE = cnnfast.build_info()["conv_engine"]
needs_engine = pytest.mark.skipif(not ENGINE, reason="this torch or CPU has no fp32 brgemm microkernel")


def path(x, w, stride=1, padding=0, dilation=1, groups=1, cpu="amd", avx512=True, **kw):
    return config.conv_path_for(x, w, stride, padding, dilation, groups, cpu=cpu, avx512=avx512, **kw)


@needs_engine
def test_se_excitation_on_a_1x1_map_takes_the_engine_in_either_layout():
    assert path((1, 960, 1, 1), (240, 960, 1, 1)) == "engine"
    assert path((8, 960, 1, 1), (240, 960, 1, 1), channels_last=False) == "engine"


def test_a_1x1_map_in_float64_takes_the_gemm():
    assert path((1, 960, 1, 1), (240, 960, 1, 1), dtype="float64") == "gemm"


def test_small_depthwise_takes_the_direct_kernel():
    assert path((1, 116, 28, 28), (116, 1, 3, 3), padding=1, groups=116) == "depthwise"


def test_large_depthwise_on_whole_channel_blocks_takes_the_direct_kernel():
    assert path((8, 1152, 7, 7), (1152, 1, 5, 5), padding=2, groups=1152) == "depthwise"
    assert path((8, 144, 56, 56), (144, 1, 3, 3), padding=1, groups=144) == "depthwise"


def test_large_depthwise_off_the_channel_blocks_stays_with_onednn():
    assert path((8, 72, 56, 56), (72, 1, 3, 3), padding=1, groups=72) == "onednn"  # 72 = 4.5 blocks of 16
    assert path((1, 72, 56, 56), (72, 1, 3, 3), padding=1, groups=72) == "depthwise"  # small: still direct


def test_narrow_depthwise_off_the_channel_blocks_goes_to_onednn_from_1m_macs():
    # ShuffleNet V2's 24- and 58-channel layers: oneDNN at batch 8, the direct kernel at batch 1.
    assert path((8, 24, 56, 56), (24, 1, 3, 3), stride=2, padding=1, groups=24) == "onednn"  # 1.35M
    assert path((8, 58, 28, 28), (58, 1, 3, 3), padding=1, groups=58) == "onednn"  # 3.27M
    assert path((1, 58, 28, 28), (58, 1, 3, 3), padding=1, groups=58) == "depthwise"  # 0.41M
    assert path((8, 116, 28, 28), (116, 1, 3, 3), stride=2, padding=1, groups=116) == "depthwise"  # 64+ channels


def test_rgb_stems_at_stride_2_take_the_stem_kernel():
    assert path((1, 3, 224, 224), (16, 3, 3, 3), stride=2, padding=1) == "stem"  # MobileNetV3
    assert path((8, 3, 224, 224), (64, 3, 7, 7), stride=2, padding=3) == "stem"  # ResNet, GoogLeNet


def test_other_stems_stay_with_onednn():
    assert path((1, 3, 224, 224), (24, 3, 3, 3), stride=2, padding=1) == "onednn"  # ShuffleNet: 24 channels
    assert path((1, 3, 224, 224), (64, 3, 3, 3), stride=1, padding=1) == "onednn"  # VGG: stride 1
    assert path((1, 3, 224, 224), (64, 3, 11, 11), stride=4, padding=2) == "onednn"  # AlexNet


def test_small_1x1_takes_the_direct_kernel():
    assert path((1, 40, 28, 28), (120, 40, 1, 1)) == "pointwise"


@needs_engine
def test_resnet50_bottleneck_1x1_takes_the_engine_on_small_maps_only():
    assert path((1, 1024, 14, 14), (256, 1024, 1, 1)) == "engine"  # 196 pixels, a 1 MB weight
    assert path((8, 256, 56, 56), (64, 256, 1, 1)) == "pointwise"  # 25088 pixels: the direct kernel
    assert path((8, 2048, 7, 7), (512, 2048, 1, 1)) == "pointwise"  # 392 pixels


@needs_engine
def test_on_intel_1x1_reductions_past_128_channels_take_the_engine():
    intel = dict(cpu="intel")
    assert path((8, 256, 56, 56), (64, 256, 1, 1), **intel) == "engine"  # ResNet-50: 0.93x of the direct kernel
    assert path((8, 2048, 7, 7), (512, 2048, 1, 1), **intel) == "engine"
    assert path((1, 1152, 7, 7), (192, 1152, 1, 1), **intel) == "engine"  # EfficientNet-B0 projection
    assert path((1, 192, 28, 28), (64, 192, 1, 1), **intel) == "engine"  # GoogLeNet, into a concat slice
    assert path((8, 512, 28, 28), (512, 512, 1, 1), **intel) == "engine"  # square, 1.6G MACs


@needs_engine
def test_on_intel_narrow_inputs_small_outputs_and_expansions_keep_the_direct_kernel():
    intel = dict(cpu="intel")
    assert path((8, 64, 56, 56), (256, 64, 1, 1), **intel) == "pointwise"  # 64 in: 0.78x of the engine
    assert path((8, 128, 28, 28), (512, 128, 1, 1), **intel) == "pointwise"  # 128 in: not past the limit
    assert path((1, 144, 56, 56), (24, 144, 1, 1), **intel) == "pointwise"  # 24 out
    assert path((1, 208, 14, 14), (208, 208, 1, 1), **intel) == "pointwise"  # square, 8.5M MACs (RegNetY)
    assert path((1, 320, 7, 7), (1280, 320, 1, 1), **intel) == "pointwise"  # expansion (EfficientNet head)


def test_the_vendor_rule_needs_the_engine():
    with config.force_conv_path("no-engine"):
        assert path((8, 256, 56, 56), (64, 256, 1, 1), cpu="intel") == "pointwise"


def test_an_unknown_vendor_is_refused():
    import cnnfast._C

    with pytest.raises(ValueError, match="cpu must be one of"):
        path((1, 40, 28, 28), (120, 40, 1, 1), cpu="arm")
    with pytest.raises(ValueError, match="vendor must be"):
        cnnfast._C._route_vendor(7)  # the raw switch checks too
    assert config.cpu_vendor() in config.CPU_VENDORS


@needs_engine
def test_route_as_switches_the_running_rule_and_restores_it():
    shape = ((8, 256, 56, 56), (64, 256, 1, 1))
    before = config.cpu_vendor()
    with config.route_as("intel"):
        assert config.cpu_vendor() == "intel"
        assert path(*shape, cpu=None) == "engine"
    with config.route_as("amd"):
        assert path(*shape, cpu=None) == "pointwise"
    assert config.cpu_vendor() == before


@needs_engine
def test_strided_1x1_downsample_takes_the_engine():
    assert path((1, 256, 56, 56), (512, 256, 1, 1), stride=2) == "engine"


@needs_engine
def test_3x3_stride_1_takes_winograd():
    assert path((1, 32, 28, 28), (96, 32, 3, 3), padding=1) == "winograd"  # GoogLeNet, 21.7M MACs
    assert path((1, 64, 56, 56), (64, 64, 3, 3), padding=1) == "winograd"  # ResNet, 116M MACs
    assert path((1, 512, 14, 14), (512, 512, 3, 3), padding=1) == "winograd"
    assert path((8, 32, 149, 149), (32, 32, 3, 3)) == "winograd"  # Inception-v3, unpadded


@needs_engine
def test_tiny_3x3_stays_on_the_engine():
    assert path((1, 16, 14, 14), (48, 16, 3, 3), padding=1) == "engine"  # GoogLeNet, 1.35M MACs
    assert path((1, 128, 7, 7), (32, 128, 3, 3), padding=1) == "engine"  # DenseNet, 1.8M MACs
    assert path((8, 32, 7, 7), (128, 32, 3, 3), padding=1) == "engine"  # GoogLeNet: 32 channels on 7x7
    assert path((8, 128, 7, 7), (32, 128, 3, 3), padding=1) == "winograd"  # 128 channels: pays there


@needs_engine
def test_3x3_winograd_cannot_take_goes_by_size():
    assert path((1, 24, 14, 14), (64, 24, 3, 3), padding=1) == "engine"  # 24 channels: not whole vectors
    assert path((1, 256, 28, 28), (256, 256, 3, 3), stride=2, padding=1) == "onednn"  # stride 2, 116M MACs
    assert path((1, 48, 35, 35), (64, 48, 5, 5), padding=2) == "onednn"  # 5x5


@needs_engine
def test_on_intel_kxk_convs_up_to_34m_multiply_adds_take_the_engine():
    intel = dict(cpu="intel")
    assert path((1, 384, 8, 8), (384, 384, 1, 3), padding=(0, 1), **intel) == "engine"  # Inception-v3, 28M
    assert path((1, 96, 35, 35), (96, 96, 3, 3), stride=2, **intel) == "engine"  # stride 2, 24M
    assert path((1, 128, 17, 17), (128, 128, 7, 1), padding=(3, 0), **intel) == "engine"  # 33M
    assert path((1, 32, 35, 35), (64, 32, 5, 5), padding=2, **intel) == "onednn"  # 39M
    assert path((1, 48, 35, 35), (64, 48, 5, 5), padding=2, **intel) == "onednn"  # 94M, 1.10-1.13x
    # AMD's cores keep 16M: from there oneDNN was as fast.
    assert path((1, 384, 8, 8), (384, 384, 1, 3), padding=(0, 1)) == "onednn"
    assert path((1, 32, 28, 28), (32, 32, 3, 3), stride=2, padding=1) == "engine"  # 1.8M


@needs_engine
def test_on_intel_column_and_row_filters_up_to_160m_multiply_adds_take_the_engine():
    intel = dict(cpu="intel")
    assert path((1, 192, 17, 17), (192, 192, 7, 1), padding=(3, 0), **intel) == "engine"  # 75M, 0.88x oneDNN
    assert path((1, 192, 17, 17), (192, 192, 1, 7), padding=(0, 3), **intel) == "engine"  # transposed, 0.90x
    assert path((2, 160, 17, 17), (160, 160, 7, 1), padding=(3, 0), **intel) == "engine"  # 104M, 0.85x
    assert path((4, 192, 17, 17), (192, 192, 7, 1), padding=(3, 0), **intel) == "onednn"  # 300M: 1.22x
    assert path((4, 192, 17, 17), (192, 192, 1, 7), padding=(0, 3), **intel) == "onednn"  # 1.29x
    assert path((8, 384, 8, 8), (384, 384, 3, 1), padding=(1, 0), **intel) == "onednn"  # 226M
    # AMD's cores keep the KxK limit for column and row filters too.
    assert path((1, 192, 17, 17), (192, 192, 7, 1), padding=(3, 0)) == "onednn"
    assert path((1, 192, 17, 17), (192, 192, 1, 7), padding=(0, 3)) == "onednn"


@needs_engine
def test_on_intel_strided_filters_up_to_120m_multiply_adds_take_the_engine():
    intel = dict(cpu="intel")
    # ResNet-50 at batch 1 (116M; the model 0.985x), ResNet-18's 58M, Inception-v3's 35M.
    assert path((1, 512, 14, 14), (512, 512, 3, 3), stride=2, padding=1, **intel) == "engine"
    assert path((1, 128, 56, 56), (128, 128, 3, 3), stride=2, padding=1, **intel) == "engine"
    assert path((1, 64, 56, 56), (128, 64, 3, 3), stride=2, padding=1, **intel) == "engine"
    assert path((1, 192, 17, 17), (320, 192, 3, 3), stride=2, **intel) == "engine"
    assert path((2, 512, 14, 14), (512, 512, 3, 3), stride=2, padding=1, **intel) == "onednn"  # 232M
    assert path((1, 288, 35, 35), (384, 288, 3, 3), stride=2, **intel) == "onednn"  # 288M
    # AMD's cores keep the KxK limit.
    assert path((1, 512, 14, 14), (512, 512, 3, 3), stride=2, padding=1) == "onednn"


# The narrow grouped loop has AVX-512 and AVX2 builds (grouped_narrow_cpu.cpp,
# grouped_narrow_avx2_cpu.cpp); where neither runs (the sanitizer build of an AVX2-only CPU),
# groups of 2-8 channels stay with oneDNN.
NARROW_GROUPS = "grouped" if grouped_kernel_runs(128, 32) else "onednn"


def test_narrow_groups_take_the_grouped_kernel():
    assert path((1, 128, 56, 56), (128, 4, 3, 3), padding=1, groups=32) == NARROW_GROUPS  # ResNeXt-50, 4 wide
    assert path((8, 208, 14, 14), (208, 8, 3, 3), padding=1, groups=26) == NARROW_GROUPS  # RegNetY, 8 wide
    assert path((8, 104, 28, 28), (104, 8, 3, 3), padding=1, groups=13) == NARROW_GROUPS  # off the 16-lane grid
    assert path((1, 512, 28, 28), (512, 16, 3, 3), stride=2, padding=1, groups=32) == "grouped"  # 16 wide, stride 2


def test_groups_of_16_and_32_take_the_wide_grouped_loop():
    assert path((1, 512, 14, 14), (512, 16, 3, 3), padding=1, groups=32) == "grouped"  # ResNeXt-50 b1, 14.5M MACs
    assert path((8, 512, 28, 28), (512, 16, 3, 3), padding=1, groups=32) == "grouped"  # 28 wide (ResNeXt-101)
    assert path((1, 1024, 7, 7), (1024, 32, 3, 3), padding=1, groups=32) == "grouped"  # 32 wide
    assert path((8, 1024, 14, 14), (1024, 32, 3, 3), stride=2, padding=1, groups=32) == "grouped"


def test_wide_groups_where_onednn_is_faster_stay_with_it():
    assert path((8, 512, 14, 14), (512, 16, 3, 3), padding=1, groups=32) == "onednn"  # 16 wide on 14x14, 116M MACs
    assert path((1, 2048, 7, 7), (2048, 64, 3, 3), padding=1, groups=32) == "onednn"  # 64 wide
    assert path((1, 1536, 14, 14), (1536, 48, 3, 3), padding=1, groups=32) == "onednn"  # 48 wide
    assert path((1, 32, 8, 8), (64, 8, 3, 3), padding=1, groups=4) == "onednn"  # 8 in, 16 out per group


def test_rgb_stem_stays_with_onednn():
    assert path((1, 3, 224, 224), (24, 3, 3, 3), stride=2, padding=1) == "onednn"


def test_nchw_takes_onednn_and_float64_the_portable_path():  # Winograd too, like the engine
    assert path((1, 32, 28, 28), (96, 32, 3, 3), padding=1, channels_last=False) == "onednn"
    assert path((1, 32, 28, 28), (96, 32, 3, 3), padding=1, dtype="float64") == "portable"
    assert path((1, 32, 28, 28), (96, 32, 3, 3), padding=1, onednn=False, channels_last=False) == "portable"


@needs_engine
def test_a_forced_path_is_taken_where_it_can_run_and_restored():
    shape = ((1, 64, 56, 56), (64, 64, 3, 3))
    with config.force_conv_path("engine"):
        assert path(*shape, padding=1) == "engine"
        assert path(*shape, padding=1, dtype="float64") == "portable"  # the engine cannot: the rule decides
    assert path(*shape, padding=1) == "winograd"
    with config.force_conv_path("pointwise"):
        assert path(*shape, padding=1) == "winograd"  # a 3x3 cannot take the 1x1 kernel


def test_an_unknown_path_is_refused():
    with pytest.raises(ValueError, match="conv path must be one of"):
        config.force_conv_path("mkl")


@needs_engine
def test_optimize_reports_the_kernels_it_runs():
    import torchvision

    model = torchvision.models.resnet18(weights=None).eval()
    fast = cnnfast.optimize(model, example_input=torch.randn(1, 3, 64, 64))
    kernels = cnnfast.report(fast).conv_kernels
    assert sum(kernels.values()) == 20 and kernels["engine"] > 0 and kernels["winograd"] > 0  # 17 + 3 downsample
    assert "conv kernels (CPU, example input)" in str(cnnfast.report(fast))


def test_the_report_counts_the_convs_inside_one_op_modules():
    # Conv1x1Depthwise (a 1x1 -> depthwise pair) and Conv2dBiasActMean (a conv handing its means to
    # an SE block) call one op for their convs on the CPU: each conv is still counted once.
    import torchvision

    from cnnfast.nn import Conv1x1Depthwise, Conv2dBiasActMean
    from cnnfast.testing import randomize_batchnorm

    model = randomize_batchnorm(torchvision.models.mobilenet_v3_small(weights=None)).eval()
    fast = cnnfast.optimize(model, example_input=torch.randn(1, 3, 64, 64))
    assert any(isinstance(m, Conv1x1Depthwise) for m in fast.modules())
    se_fcs = 2 * sum(isinstance(m, torchvision.ops.SqueezeExcitation) for m in model.modules())
    convs = sum(isinstance(m, torch.nn.Conv2d) for m in model.modules()) - se_fcs
    assert sum(cnnfast.report(fast).conv_kernels.values()) == convs
    # And a depthwise conv before an SE block that is not part of a pair.
    block = torch.nn.Sequential(torch.nn.Conv2d(16, 16, 3, padding=1, groups=16), torchvision.ops.SqueezeExcitation(16, 4))
    fast = cnnfast.optimize(block.eval(), example_input=torch.randn(1, 16, 12, 12))
    assert any(isinstance(m, Conv2dBiasActMean) for m in fast.modules())
    assert sum(cnnfast.report(fast).conv_kernels.values()) == 1


def test_no_engine_runs_the_fallbacks():
    with config.force_conv_path("no-engine"):
        assert path((1, 1024, 14, 14), (256, 1024, 1, 1)) == "onednn"
        assert path((1, 960, 1, 1), (240, 960, 1, 1)) == "gemm"
        assert path((1, 40, 28, 28), (120, 40, 1, 1)) == "pointwise"


def test_a_1x1_into_a_concat_slice_stays_on_the_direct_kernel():
    # The direct 1x1 kernel stores into a slice in place, as the engine does (it once gave its
    # layers to the engine there: 512->64 at 14x14 ran 127 us on the engine, 72 us direct).
    assert path((1, 192, 28, 28), (64, 192, 1, 1)) == "pointwise"


@needs_engine
def test_without_avx512_the_register_blocked_kernels_are_left_out():
    # Their AVX2 clones spill: 2-30x oneDNN's time on an AVX2-only AMD EPYC (route.cpp). The
    # depthwise kernel's AVX2 build keeps the convs up to 1.5M multiply-adds there, and the stem
    # kernel's its AVX-512 rule (test_the_stem_kernel_keeps_its_rule_without_avx512).
    cases = [  # (x, w, stride, padding, groups), each taking a direct kernel with AVX-512
        ((1, 40, 28, 28), (120, 40, 1, 1), 1, 0, 1),  # the 1x1 kernel
        ((8, 144, 56, 56), (144, 1, 3, 3), 1, 1, 144),  # the depthwise kernel
        ((1, 512, 14, 14), (512, 16, 3, 3), 1, 1, 32),  # the wide grouped loop
    ]
    with_avx512 = [path(x, w, s, p, groups=g) for x, w, s, p, g in cases]
    without = [path(x, w, s, p, groups=g, avx512=False) for x, w, s, p, g in cases]
    assert with_avx512 == ["pointwise", "depthwise", "grouped"]
    assert without == ["engine", "onednn", "onednn"]
    small_dw = ((1, 184, 14, 14), (184, 1, 3, 3), 1, 1, 184)  # 0.32M multiply-adds
    assert path(*small_dw[:4], groups=184, avx512=False) == "depthwise"
    assert path((1, 72, 56, 56), (72, 1, 3, 3), 1, 1, groups=72, avx512=False) == "onednn"  # 2.0M


def test_without_avx512_narrow_groups_take_the_loops_avx2_build():
    # Every group of 2-8 channels (0.39-0.82x oneDNN's AVX2 time on RegNetY's and ResNeXt-50's);
    # wider groups stay with oneDNN (grouped_conv_cpu.cpp).
    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("the sanitizer build has no AVX2 build of the narrow grouped loop")
    no = dict(avx512=False)
    assert path((1, 128, 56, 56), (128, 4, 3, 3), padding=1, groups=32, **no) == "grouped"  # ResNeXt-50, 4 wide
    assert path((8, 128, 56, 56), (128, 4, 3, 3), padding=1, groups=32, **no) == "grouped"
    assert path((1, 440, 7, 7), (440, 8, 3, 3), padding=1, groups=55, **no) == "grouped"  # RegNetY, 8 wide
    assert path((8, 440, 14, 14), (440, 8, 3, 3), stride=2, padding=1, groups=55, **no) == "grouped"  # onto 7x7
    assert path((1, 104, 28, 28), (104, 8, 3, 3), padding=1, groups=13, **no) == "grouped"  # 8 wide on 28x28
    assert path((1, 208, 14, 14), (208, 8, 3, 3), padding=1, groups=26, **no) == "grouped"  # 8 wide on 14x14
    assert path((8, 48, 112, 112), (48, 8, 3, 3), stride=2, padding=1, groups=6, **no) == "grouped"
    assert path((1, 256, 56, 56), (256, 8, 3, 3), stride=2, padding=1, groups=32, **no) == "grouped"
    assert path((1, 512, 14, 14), (512, 16, 3, 3), padding=1, groups=32, **no) == "onednn"  # 16 wide


def test_the_stem_kernel_keeps_its_rule_without_avx512():
    # Its AVX2 build, 5 pixels x 2 vectors of 8 lanes: 0.76-1.02x of oneDNN's AVX2 time on those
    # stems (stem_conv_cpu.cpp); ShuffleNet's 24 channels stay with oneDNN either way.
    for avx512 in (True, False):
        assert path((8, 3, 224, 224), (64, 3, 7, 7), 2, 3, avx512=avx512) == "stem"  # ResNet, GoogLeNet
        assert path((1, 3, 224, 224), (16, 3, 3, 3), 2, 1, avx512=avx512) == "stem"  # MobileNetV3
        assert path((1, 3, 224, 224), (24, 3, 3, 3), 2, 1, avx512=avx512) == "onednn"  # ShuffleNet


@needs_engine
def test_without_avx512_5x5_filters_take_the_engine_at_any_size():
    # 0.80-0.90x of oneDNN's AVX2 time on Zen 3, 0.81-0.92x inside the models on Zen 4 as AVX2;
    # with AVX-512 the size limit stands.
    for batch in (1, 8):
        assert path((batch, 64, 27, 27), (192, 64, 5, 5), 1, 2, avx512=False) == "engine"  # AlexNet
        assert path((batch, 48, 35, 35), (64, 48, 5, 5), 1, 2, avx512=False) == "engine"  # Inception-v3
        assert path((batch, 64, 27, 27), (192, 64, 5, 5), 1, 2, avx512=True) == "onednn"
    assert path((8, 128, 28, 28), (128, 128, 3, 3), 2, 1, avx512=False) == "onednn"  # 3x3 keeps the limit


def test_without_avx512_the_stem_kernel_takes_alexnets_stride_4():
    # 0.80-0.88x of oneDNN's AVX2 time there; with AVX-512 level (0.96-1.01x), so oneDNN keeps it.
    for batch in (1, 8):
        assert path((batch, 3, 224, 224), (64, 3, 11, 11), 4, 2, avx512=False) == "stem"
        assert path((batch, 3, 224, 224), (64, 3, 11, 11), 4, 2, avx512=True) == "onednn"
    assert path((1, 3, 224, 224), (64, 3, 3, 3), 1, 1, avx512=False) == "onednn"  # VGG: stride 1, either way


@needs_engine
def test_without_avx512_winograd_leaves_512_by_512_and_narrow_outputs():
    no = dict(avx512=False)
    assert path((1, 64, 56, 56), (64, 64, 3, 3), padding=1, **no) == "winograd"  # ResNet-18
    assert path((1, 256, 28, 28), (512, 256, 3, 3), padding=1, **no) == "winograd"  # VGG-16: 256 x 512 pairs
    assert path((1, 512, 14, 14), (512, 512, 3, 3), padding=1, **no) == "onednn"  # VGG-16, 462M MACs
    assert path((1, 512, 7, 7), (512, 512, 3, 3), padding=1, **no) == "onednn"  # ResNet-18, 116M MACs
    assert path((1, 128, 28, 28), (32, 128, 3, 3), padding=1, **no) == "onednn"  # DenseNet: 32 out, 29M
    assert path((1, 128, 14, 14), (32, 128, 3, 3), padding=1, **no) == "engine"  # 7.2M: the engine's size
    assert path((1, 512, 14, 14), (512, 512, 3, 3), padding=1) == "winograd"  # with AVX-512: all of them


def test_route_avx512_switches_the_running_rule_and_restores_it():
    shape = ((1, 40, 28, 28), (120, 40, 1, 1))
    before = config.cpu_has_avx512()
    assert before == CPU_HAS_AVX512  # the rule's reading agrees with torch's
    assert cnnfast.build_info()["cpu_avx512"] == before
    with config.route_avx512(False):
        assert not config.cpu_has_avx512()
        assert path(*shape, avx512=None) in ("engine", "onednn")
        # The fused pair's 1x1 half runs on the direct 1x1 kernel's AVX2 build there: the rule is
        # the same (fuse_rule.cpp), though a lone 1x1 conv takes the engine.
        assert cnnfast._C._conv1x1_depthwise_fuses([1, 112, 112, 64, 3, 1], 2)
    with config.route_avx512(True):
        assert path(*shape, avx512=None) == "pointwise"
        assert cnnfast._C._conv1x1_depthwise_fuses([1, 112, 112, 64, 3, 1], 2)
    assert config.cpu_has_avx512() == before
    with pytest.raises(ValueError, match="avx512 must be"):
        cnnfast._C._route_avx512(3)


@needs_engine
@pytest.mark.parametrize("cpu", ["intel", "amd", "amd-avx2"])
def test_models_match_eager_routed_for_either_vendor(cpu):
    # Each vendor's rule sends the 1x1 layers to a different kernel; both must give eager's result
    # on any machine (ResNet-50's bottlenecks, DenseNet's pre-activation 1x1s into concat buffers).
    import torchvision

    from cnnfast.testing import randomize_batchnorm

    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    for build in (torchvision.models.resnet50, torchvision.models.densenet121):
        model = randomize_batchnorm(build(weights=None)).eval()
        with torch.inference_mode(), config.route_as(cpu.split("-")[0]), config.route_avx512(cpu != "amd-avx2"):
            fast = cnnfast.optimize(model, example_input=x, speed_check=False)
            expected, got = model(x), fast(x)
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())


@pytest.mark.parametrize("level", ["avx2", "baseline"])
def test_mobile_models_match_eager_on_the_lower_levels_builds(level):
    # Without AVX-512 the fused 1x1 -> depthwise pairs run on the 1x1 kernel's build for the CPU's
    # level (fuse_rule.cpp): EfficientNet-B0 and MobileNetV3-L at 2 x 128 x 128 fuse their pairs on
    # 64x64 maps, and on 32x32 ones at batch 2 (each of two threads' tasks whole images). RegNetY's
    # groups of 8 on its 4x4 maps take the narrow grouped loop's AVX2 build (none at the baseline
    # level: oneDNN).
    import torchvision

    from cnnfast.testing import randomize_batchnorm

    if level not in config.kernel_levels():
        pytest.skip(f"this CPU cannot run {level} code")
    torch.manual_seed(0)
    x = torch.randn(2, 3, 128, 128).contiguous(memory_format=torch.channels_last)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with config.route_avx512(False), config.kernel_level(level):
            assert config.conv1x1_depthwise_fuses((2, 16, 64, 64), (96, 16, 1, 1), (96, 1, 3, 3), 2)
            for build in (torchvision.models.efficientnet_b0, torchvision.models.mobilenet_v3_large,
                          torchvision.models.regnet_y_400mf):
                model = randomize_batchnorm(build(weights=None)).eval()
                with torch.inference_mode():
                    fast = cnnfast.optimize(model, example_input=x, speed_check=False)
                    expected, got = model(x), fast(x)
                torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())
    finally:
        torch.set_num_threads(before)
