"""cnnfast.optimize(): copy a model, run the rewrite passes in order, attach a report."""

import copy
from collections import Counter
import time

import torch
import torch.fx as fx
import torch.nn as nn

from cnnfast.memory import keep_freed_memory
from cnnfast.nn import FUSED_MODULES
from cnnfast.passes import (drop_dropout, fold_channel_shuffle, fuse_activation, fuse_concat, fuse_conv_bn, fuse_linear, fuse_preact_conv,
                            fuse_residual_add, fuse_sibling_convs, fuse_small_cnn, fuse_squeeze_excite, use_max_pool2d,
                            view_to_reshape)
from cnnfast.passes._graph import eliminate_dead_code, has_hooks, trace
from cnnfast.report import Report
from cnnfast.verify import verify


def optimize(model: nn.Module, *, inplace: bool = False, channels_last: bool = True,
             example_input=None, check: bool = False, script: bool = False,
             cuda_graphs: bool = False, reuse_memory: bool = True) -> nn.Module:
    """Return a faster inference copy of `model` with the same outputs (fp32: within ~1e-5
    relative; BN folding and oneDNN's summation order change the last bits).

    - Conv2d (+ eval-mode BatchNorm2d) (+ residual add) (+ ReLU/ReLU6/SiLU/Sigmoid/Hardswish/
      Hardsigmoid) become one cnnfast.ops.conv2d_bias_act call with weights prepacked once.
    - Dropout (identity in eval mode) is removed.
    - With channels_last (default), the fused convs run and hand on channels_last tensors: same
      values, faster oneDNN kernels; 4-D outputs of the model may come back channels_last.
    - What cannot be fused safely is left untouched and listed in cnnfast.report(result).

    Conv weights are re-laid out for oneDNN once per input shape and cached; pass
    `example_input` (a tensor, or a tuple of positional inputs) to do that here instead of on the
    first call. With `check=True` (needs example_input and inplace=False) the result is compared
    with the original on it (cnnfast.verify); the comparison is kept in the report, and a result
    outside the dtype's tolerance raises ValueError instead of being returned.

    With `script=True` the result is also compiled with torch.jit.script + torch.jit.freeze, which
    takes the Python interpreter out of the per-call path (measured here at batch 1: MobileNetV3
    4.5 -> 3.6 ms, GoogLeNet 9.9 -> 9.0, ResNet-50 21.2 -> 20.4). If scripting fails, the eager
    result is returned and the report says why.

    With `reuse_memory=True` (the default) and a CPU model, cnnfast's caching CPU allocator is
    installed (cnnfast.memory.keep_freed_memory): freed blocks of 256 KB and more are kept and reused,
    where glibc would page-fault every activation above 32 MB in afresh on each call (VGG-16-BN at
    batch 8: 650 -> 500 ms). It serves the whole process, as torch.cuda's caching allocator does;
    cnnfast.memory.release_cached_memory() returns what it holds. reuse_memory=False leaves
    PyTorch's allocator alone. The report says when it was installed.

    With `cuda_graphs=True` (a CUDA model) the result is wrapped in cnnfast.cuda_graphs.
    CUDAGraphModel: one CUDA graph captured per input shape and replayed afterwards, outputs
    returned as fresh tensors.

    The model must be in eval mode. The input is never modified unless inplace=True; the result
    is an inference model (its parameters do not require grad). Models torch.fx can trace come
    back as torch.fx.GraphModule with the original submodule names (a LeNet-like model that
    became one cnnfast.nn.SmallCNN comes back as that module); for others, each traceable child
    is rewritten in place of the original child.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"cnnfast.optimize expects a torch.nn.Module, got {type(model).__name__}")
    if model.training:
        raise ValueError("cnnfast.optimize needs a model in eval mode (BatchNorm folding uses running "
                         "statistics and Dropout is removed): call model.eval() first")
    if cuda_graphs:
        tensors = list(model.parameters()) + list(model.buffers())
        if not torch.cuda.is_available() or not tensors or any(t.device.type != "cuda" for t in tensors):
            raise ValueError("cnnfast.optimize(cuda_graphs=True) needs a model on a CUDA device "
                             "(model.cuda()) and a visible GPU")
    if check and (example_input is None or inplace):
        raise ValueError("cnnfast.optimize(check=True) needs example_input= and inplace=False")
    start = time.perf_counter()
    report = Report()
    result = model if inplace else copy.deepcopy(model)
    for p in result.parameters():
        if p.is_leaf:  # a deep-copied TorchScript child can hold non-leaf parameters
            p.requires_grad_(False)
    if torch.nn.modules.module._global_forward_hooks or torch.nn.modules.module._global_forward_pre_hooks:
        report.notes.append("global module hooks are registered: fused modules no longer call them")
    result = _optimize_module(result, report, "", channels_last)
    if reuse_memory and _runs_on_cpu(result):
        if keep_freed_memory():
            report.notes.append("caching CPU allocator installed (process-wide; reuse_memory=False leaves "
                                "PyTorch's allocator alone): large activations are reused, not page-faulted in")
        else:
            report.notes.append("reuse_memory: the caching CPU allocator could not be installed")
    args = None
    if example_input is not None:
        args = example_input if isinstance(example_input, tuple) else (example_input,)
        report.conv_kernels = _conv_kernels(result, args)  # also prepacks every conv weight for this shape
    if script:
        result = _script(result, report)
        if args is not None:
            with torch.inference_mode():
                result(*args)  # the scripted form's first call (weights already packed)
    if check:
        report.check = verify(model, result, *args)
        if not report.check.ok:
            raise ValueError(f"cnnfast.optimize: the optimized model does not match the original: {report.check}")
    if cuda_graphs:
        from cnnfast.cuda_graphs import CUDAGraphModel

        result = CUDAGraphModel(result)
    report.seconds = time.perf_counter() - start
    result._cnnfast_report = report
    return result


def _conv_kernels(model: nn.Module, args) -> Counter:
    """Run the model once on args and count the CPU kernel each Conv2dBiasAct layer takes for the
    shape it sees there (the router's choice: cnnfast.config.conv_path_for)."""
    from cnnfast.config import conv_path_for
    from cnnfast.nn.conv2d_bias_act import Conv2dBiasAct

    kernels = Counter()

    def record(m, inputs):
        x = inputs[0]
        if x.device.type == "cpu" and x.dim() == 4:
            kernels[conv_path_for(x.shape, m.weight.shape, m.stride, m.padding, m.dilation, m.groups,
                                  dtype=str(x.dtype).replace("torch.", ""),
                                  channels_last=m.channels_last or x.is_contiguous(memory_format=torch.channels_last))] += 1

    handles = [m.register_forward_pre_hook(record) for m in model.modules() if isinstance(m, Conv2dBiasAct)]
    try:
        with torch.inference_mode():
            model(*args)
    finally:
        for h in handles:
            h.remove()
    return kernels


def _runs_on_cpu(model: nn.Module) -> bool:
    tensors = list(model.parameters()) + list(model.buffers())
    return not tensors or any(t.device.type == "cpu" for t in tensors)


def _optimize_children(m: nn.Module, report: Report, prefix: str, channels_last: bool) -> nn.Module:
    for name, child in list(m.named_children()):
        new = _optimize_module(child, report, f"{prefix}{name}.", channels_last)
        if new is not child:
            setattr(m, name, new)
    return m


def _optimize_module(m: nn.Module, report: Report, prefix: str, channels_last: bool) -> nn.Module:
    where = prefix.rstrip(".") or "<model>"
    if isinstance(m, torch.jit.ScriptModule):
        report.skip(where, "already a TorchScript module; left as is")
        return m
    if isinstance(m, FUSED_MODULES):
        return m
    if has_hooks(m):
        report.skip(where, "module has hooks; its own forward is kept, its children are optimized")
        return _optimize_children(m, report, prefix, channels_last)
    try:
        gm = trace(m)
    except Exception as e:  # data-dependent control flow, unsupported Python, ...
        if next(m.children(), None) is not None:
            msg = str(e).strip().splitlines()[0][:120] if str(e).strip() else ""
            report.skip(where, f"torch.fx cannot trace it ({type(e).__name__}: {msg}); "
                        "optimizing its children one by one")
            return _optimize_children(m, report, prefix, channels_last)
        return m
    for node in gm.graph.nodes:
        if node.op == "call_module" and isinstance(gm.get_submodule(node.target), torch.jit.ScriptModule):
            report.skip(prefix + node.target, "already a TorchScript module; left as is")
    fused_before = sum(report.fused.values())
    drop_dropout.run(gm, report, prefix)
    fuse_conv_bn.run(gm, report, prefix, channels_last)
    fuse_residual_add.run(gm, report, prefix)
    fuse_activation.run(gm, report, prefix)
    fuse_squeeze_excite.run(gm, report, prefix)
    fuse_linear.run(gm, report, prefix)
    fuse_preact_conv.run(gm, report, prefix)
    fold_channel_shuffle.run(gm, report, prefix)
    fuse_sibling_convs.run(gm, report, prefix)
    fuse_concat.run(gm, report, prefix)
    use_max_pool2d.run(gm, report, prefix)
    fuse_small_cnn.run(gm, report, prefix)
    if sum(report.fused.values()) == fused_before:
        return m  # nothing fused here: keep the original module, untouched
    if channels_last:
        view_to_reshape.run(gm, report, prefix)
    eliminate_dead_code(gm)
    gm.graph.lint()
    gm.delete_all_unused_submodules()
    gm.recompile()
    return _single_call_or(gm)


def _single_call_or(gm: fx.GraphModule) -> nn.Module:
    """The one submodule a graph calls on its input, when that is all the graph does (a model
    fuse_small_cnn turned into one SmallCNN): calling it directly saves the GraphModule's own
    Python call, ~2 us per forward, a tenth of LeNet-5's time."""
    nodes = list(gm.graph.nodes)
    if ([n.op for n in nodes] == ["placeholder", "call_module", "output"] and nodes[1].args == (nodes[0],)
            and not nodes[1].kwargs and nodes[2].args == (nodes[1],) and not nodes[0].args):
        only = gm.get_submodule(nodes[1].target)
        only.train(gm.training)  # modules a pass builds start in training mode; the graph was eval
        return only
    return gm


def _script(model: nn.Module, report: Report) -> nn.Module:
    import warnings

    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # TorchScript's deprecation notices
            return torch.jit.freeze(torch.jit.script(model))
    except Exception as e:  # a model TorchScript cannot compile still gets the eager result
        msg = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        report.notes.append(f"script=True: TorchScript could not compile the model ({msg}); "
                            "returned the eager-mode result")
        return model
