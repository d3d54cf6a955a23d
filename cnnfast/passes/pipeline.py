"""optimize()'s passes as data: their order, what each produces, and a transactional runner.

Each pass rewrites one traced GraphModule in place. A pass that raises must not take optimize()
down with it, nor leave a half-rewritten graph behind: `run_pipeline` snapshots the graph, the
module tree and the report once, and when a pass raises (or leaves a graph that fails lint) puts
all three back, replays the passes before it, records the pass and its error in the report, and
goes on with the next pass. The snapshot is shallow: a pass
may add, replace or re-attribute modules (all restored) but must never write into an existing
tensor in place (no pass does: they register new tensors).
"""

import copy
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Tuple

import torch.fx as fx
import torch.nn as nn

from cnnfast.passes import (avg_pool_as_conv, drop_dropout, fold_channel_shuffle, fuse_activation, fuse_concat,
                            fuse_conv1x1_depthwise, fuse_conv_bn,
                            fuse_linear, fuse_preact_conv, fuse_residual_add, fuse_se_squeeze, fuse_sibling_convs, fuse_small_cnn,
                            fuse_squeeze_excite, reuse_residual_buffer, use_global_avg_pool, use_max_pool2d,
                            view_to_reshape)
from cnnfast.report import Report, error_line


@dataclass
class PassContext:
    report: Report
    prefix: str  # module path of the graph being rewritten, "" for the model itself, else "a.b."
    channels_last: bool


@dataclass(frozen=True)
class Pass:
    name: str
    produces: str  # one line: what the graph holds after it
    run: Callable[[fx.GraphModule, PassContext], None]


def _plain(module) -> Callable[[fx.GraphModule, PassContext], None]:
    return lambda gm, ctx: module.run(gm, ctx.report, ctx.prefix)


# In order: every later pass matches what the earlier ones produced (Conv2dBiasAct before its
# epilogue, SE before Linear, pools read by the concat and small-CNN passes before use_max_pool2d
# and use_global_avg_pool).
PIPELINE: Tuple[Pass, ...] = (
    Pass("drop_dropout", "no Dropout / stochastic depth (identity in eval mode)", _plain(drop_dropout)),
    Pass("fuse_conv_bn", "Conv2d [+ BatchNorm2d] as Conv2dBiasAct, weights packed",
         lambda gm, ctx: fuse_conv_bn.run(gm, ctx.report, ctx.prefix, ctx.channels_last)),
    Pass("fuse_residual_add", "act(conv(x) + r) as one conv with residual=r", _plain(fuse_residual_add)),
    Pass("fuse_activation", "activations in the conv epilogue", _plain(fuse_activation)),
    Pass("fuse_squeeze_excite", "squeeze-and-excitation blocks as SqueezeExciteScale", _plain(fuse_squeeze_excite)),
    Pass("fuse_linear", "Linear [+ act] as LinearBiasAct", _plain(fuse_linear)),
    Pass("fuse_preact_conv", "BN -> ReLU -> 1x1 conv [-> avgpool] as PreactConv1x1", _plain(fuse_preact_conv)),
    Pass("avg_pool_as_conv", "stride-1 average pools as depthwise convs (fp32 channels_last CPU)",
         lambda gm, ctx: avg_pool_as_conv.run(gm, ctx.report, ctx.prefix, ctx.channels_last)),
    Pass("fold_channel_shuffle", "channel shuffles folded into data placement and weights",
         _plain(fold_channel_shuffle)),
    Pass("fuse_sibling_convs", "convs reading one tensor with one geometry merged", _plain(fuse_sibling_convs)),
    Pass("fuse_concat", "channel cats as one buffer the convs write into", _plain(fuse_concat)),
    Pass("fuse_conv1x1_depthwise", "a 1x1 conv and the depthwise conv it feeds as one Conv1x1Depthwise",
         _plain(fuse_conv1x1_depthwise)),
    Pass("fuse_se_squeeze", "an SE block's squeeze taken by the conv before it as it stores its output",
         _plain(fuse_se_squeeze)),
    Pass("use_max_pool2d", "max pools without argmax indices", _plain(use_max_pool2d)),
    Pass("fuse_small_cnn", "a whole LeNet-like network as one SmallCNN call", _plain(fuse_small_cnn)),
    Pass("use_global_avg_pool", "global average pools as one read of the map", _plain(use_global_avg_pool)),
    # Last: its liveness check reads the final graph (concat slices, pools and SE squeezes as the
    # passes above leave them).
    Pass("reuse_residual_buffer", "1x1 convs store over a residual nothing reads after them",
         _plain(reuse_residual_buffer)),
)

# Runs only on a graph the pipeline changed, and only for channels_last results.
FINISHING: Tuple[Pass, ...] = (
    Pass("view_to_reshape", "Tensor.view as reshape (channels_last maps)", _plain(view_to_reshape)),
)

# micro_batch runs after these, from optimize(), on the root graph only: it needs example_input's
# shapes (cnnfast/passes/micro_batch.py).
PASS_NAMES = tuple(p.name for p in PIPELINE + FINISHING) + ("micro_batch",)


def check_skip(skip_passes: Iterable[str]) -> frozenset:
    skip = frozenset(skip_passes)
    unknown = sorted(skip - set(PASS_NAMES))
    if unknown:
        raise ValueError(f"cnnfast.optimize: unknown pass(es) in skip_passes: {unknown}; "
                         f"the passes are {list(PASS_NAMES)}")
    return skip


def _snapshot_modules(gm: nn.Module) -> List[Tuple[nn.Module, Dict, Dict, Dict, Dict]]:
    return [(m, dict(m.__dict__), dict(m._modules), dict(m._parameters), dict(m._buffers)) for m in gm.modules()]


def _restore_modules(saved) -> None:
    for m, attrs, modules, params, buffers in saved:  # copies: the snapshot may be restored again
        m.__dict__.clear()
        m.__dict__.update(attrs)
        m._modules, m._parameters, m._buffers = dict(modules), dict(params), dict(buffers)


class _Snapshot:
    """The graph, module tree and report as they were, restorable any number of times."""

    def __init__(self, gm: fx.GraphModule, report: Report):
        self.graph, self.modules = copy.deepcopy(gm.graph), _snapshot_modules(gm)
        self.report = (copy.copy(report.fused), len(report.sites), len(report.skipped), len(report.notes))

    def restore(self, gm: fx.GraphModule, report: Report) -> None:
        _restore_modules(self.modules)
        gm.graph = copy.deepcopy(self.graph)
        fused, sites, skipped, notes = self.report
        report.fused = copy.copy(fused)
        del report.sites[sites:], report.skipped[skipped:], report.notes[notes:]


def _run_all(passes: Tuple[Pass, ...], gm: fx.GraphModule, ctx: PassContext, skip: frozenset) -> None:
    """The passes in order as one transaction per pass. Snapshotting before every pass costs more
    than the passes (13 graph copies: 1.8 s on inception_resnet_v2), so there is one snapshot: when
    a pass raises (or leaves a graph that fails lint), everything goes back to it and the passes
    before the failing one are replayed (they are deterministic), without it."""
    todo = [p for p in passes if p.name not in skip]
    if not todo:
        return
    snapshot, failed = _Snapshot(gm, ctx.report), []
    while True:
        try:
            for p in todo:
                current = p
                p.run(gm, ctx)
                gm.graph.lint()
            break
        except Exception as e:  # a bug in a pass must cost its fusions, never the user's model
            snapshot.restore(gm, ctx.report)
            failed.append((current.name, error_line(e)))
            todo.remove(current)
    for name, error in failed:
        ctx.report.skip(ctx.prefix.rstrip(".") or "<model>",
                        f"pass {name} failed ({error}); its changes were undone and the other passes ran")


def run_pipeline(gm: fx.GraphModule, ctx: PassContext, skip: frozenset = frozenset()) -> bool:
    """Every pass not in `skip`, in order; True if any of them fused something."""
    fused_before = sum(ctx.report.fused.values())
    _run_all(PIPELINE, gm, ctx, skip)
    if sum(ctx.report.fused.values()) == fused_before:
        return False
    if ctx.channels_last:
        _run_all(FINISHING, gm, ctx, skip)
    return True
