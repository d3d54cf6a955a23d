"""Checks shared by the tests of conv2d_bias_act's direct CPU kernels (depthwise, 1x1, stem,
grouped): the op against its float64 reference, NaN/Inf propagation, repacking after a weight
change."""

import torch

import cnnfast
from cnnfast import config
from cnnfast.contracts.activations import ACTIVATIONS
from cnnfast.reference import conv2d_bias_act as reference
from tests._helpers import TOLERANCE, rel_err


def check(x, weight, bias, stride, padding, dilation, groups, res, act):
    """The op on x (channels_last) against the float64 reference: shape, layout, fp32 tolerance."""
    out = cnnfast.ops.conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, res, act)
    ref = reference(x.double(), weight.double(), bias.double() if bias is not None else None, stride, padding,
                    dilation, groups, res.double() if res is not None else None, act)
    assert out.shape == ref.shape
    # A 1x1 input map is both layouts at once; torch (and the op) then call it contiguous.
    assert out.is_contiguous(memory_format=torch.channels_last) or x.shape[2] * x.shape[3] == 1
    err = rel_err(out, ref)
    assert err <= TOLERANCE[torch.float32], f"relative error {err:.2e}"
    return out, ref


def check_on(path, args, act):
    """check() with the conv forced onto kernel `path`, which must take it; args as check() takes
    them, without the activation."""
    with config.force_conv_path(path):
        assert config.conv_path_for(args[0].shape, args[1].shape, *args[3:7]) == path
        return check(*args, act)


def check_nan_and_inf(x, weight, bias, stride, padding, dilation, groups, nan_at, inf_at):
    """A NaN and an Inf in x land where eager PyTorch puts them, for every activation (the store
    applies them all, the exp-based ones with cnnfast's vector exp)."""
    x = x.clone()
    x[nan_at] = float("nan")
    x[inf_at] = float("inf")
    for act in ACTIVATIONS:
        out = cnnfast.ops.conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, None, act)
        ref = reference(x.double(), weight.double(), bias.double(), stride, padding, dilation, groups, None,
                        act).float()
        assert torch.equal(out.isnan(), ref.isnan()), act
        finite = ref.isfinite()
        assert torch.equal(out.isinf(), ref.isinf()), act
        assert rel_err(out[finite], ref[finite]) <= TOLERANCE[torch.float32]


def check_weight_change_is_seen(path, x, weight, stride, padding, dilation, groups):
    """With the conv forced onto kernel `path`: its packed filter is cached per weight tensor, so an
    in-place update of the weight must be repacked (twice the weight, twice the bias-free output)."""
    with config.force_conv_path(path):
        first = cnnfast.ops.conv2d_bias_act(x, weight, None, stride, padding, dilation, groups, None, "none")
        weight.mul_(2)
        second = cnnfast.ops.conv2d_bias_act(x, weight, None, stride, padding, dilation, groups, None, "none")
    torch.testing.assert_close(second, 2 * first, rtol=1e-6, atol=1e-6)
