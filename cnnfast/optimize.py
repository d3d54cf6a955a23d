"""cnnfast.optimize(): copy a model, run the rewrite passes in order, attach a report."""

import copy
from collections import Counter
import time

import torch
import torch.fx as fx
import torch.nn as nn

from cnnfast import memory
from cnnfast.config import DEFAULT_GPU_BACKEND, check_gpu_backend
from cnnfast.describe import count_layers, describe
from cnnfast.capture import ShapeGuard
from cnnfast.nn.small_cnn import SmallCNN
from cnnfast.passes import micro_batch
from cnnfast.passes.pipeline import _Snapshot, check_skip
from cnnfast.passes.set_gpu_backend import set_gpu_backend
from cnnfast.pre_hooks import run_with_pre_hook
from cnnfast.replay import Replay
from cnnfast.report import Report, error_line
from cnnfast.rewrite import Job, optimize_module
from cnnfast.speed_check import slower_than_original
from cnnfast.verify import verify


def optimize(model: nn.Module, *, inplace: bool = False, channels_last: bool = True,
             example_input=None, check: bool = False, script: bool = False,
             cuda_graphs: bool = False, block_cache: bool = True, skip_passes=(),
             speed_check: bool = True, gpu_backend: str = DEFAULT_GPU_BACKEND, replay: bool = True) -> nn.Module:
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

    With example_input of batch 2 or more on the CPU, runs of layers whose maps at that batch
    outgrow the last-level cache run a few images at a time (cnnfast/passes/micro_batch.py: each
    map then stays in cache between the layer that writes it and the one that reads it; per-image
    arithmetic unchanged). The report notes each region; skip_passes=["micro_batch"] turns it off.

    With `block_cache=True` (the default) and a CPU model, cnnfast's block cache is installed as
    the process's CPU allocator (cnnfast.memory): freed blocks of 256 KB and more are kept and
    reused, where glibc would page-fault every activation above 32 MB in afresh on each call
    (VGG-16-BN at batch 8: 650 -> 500 ms). It serves the whole process, as torch.cuda's caching
    allocator does, and the report says so. A choice made with cnnfast.memory (a cap, or
    uninstall_block_cache()) is never changed; block_cache=False leaves PyTorch's allocator alone.

    `gpu_backend` ("cudnn", "cuda" or "triton"; cnnfast/config.py) picks the kernels the fused
    modules run on CUDA tensors, for this model; `with cnnfast.config.gpu_backend(...)` overrides
    it for a block of code.

    With `replay=True` (the default) a CPU result comes back wrapped in cnnfast.replay.Replay: the
    first calls for each input signature record the ops the forward issues, and later calls rerun
    them from C++ without the Python interpreter (MobileNetV3-L at batch 1: 4.9 -> 3.8 ms; the
    same as script=True without TorchScript). Attribute reads and state_dict() go to the model
    inside (`result.module`); Replay.replays() says what each signature runs, and why where a
    recording was refused (a value the forward branches on, module hooks, ...). Call its
    `reset()` after changing the model. script=True and cuda_graphs=True take precedence.

    With `cuda_graphs=True` (a CUDA model) the result is wrapped in cnnfast.cuda_graphs.
    CUDAGraphModel: one CUDA graph captured per input shape and replayed afterwards, outputs
    returned as fresh tensors.

    The passes (cnnfast.passes.pipeline.PIPELINE, in order) each run as a transaction: one that
    raises is undone, named in the report, and the others still run. `skip_passes` names passes
    not to run (a ValueError lists the names for an unknown one).

    Capture: a model torch.fx can trace symbolically comes back as a torch.fx.GraphModule with the
    original submodule names, valid for any input (a LeNet-like model that became one
    cnnfast.nn.SmallCNN comes back as that module). One it cannot (size arithmetic such as
    `int(x.size(1) * r)`, branches on shapes) is captured on `example_input` instead
    (cnnfast.capture: route "shapes"), as a cnnfast.capture.ShapeGuard: the graph runs on inputs
    of the example's height, width, dtype and device (any batch where the graph does not depend
    on it), the original module on any other input, with a warning. Without example_input, or
    where neither route captures a module, its children are optimized one by one. The report
    says which route captured each part.

    With example_input and speed_check=True, a small network (under ~20 ms a call) is also timed
    against the original on it (cnnfast.speed_check, ~0.2 s): if the optimized one is slower, an
    unoptimized copy is returned and the report says so. speed_check=False makes the result
    independent of timing.

    optimize() raises only the errors above (not a module, training mode, cuda_graphs without a
    GPU, check=True beyond tolerance, an unknown pass name) and a ValueError for an example_input
    the model itself cannot run on: if rewriting fails or the result fails on example_input, it
    returns an unoptimized copy and the report says why.

    The model must be in eval mode. The input is never modified unless inplace=True; the result
    is an inference model (its parameters do not require grad).
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
    if isinstance(model, Replay):
        model = model.module  # optimizing an optimized model: its own model, wrapped once
    skip = check_skip(skip_passes)
    check_gpu_backend(gpu_backend)
    args = None
    if example_input is not None:
        args = example_input if isinstance(example_input, tuple) else (example_input,)
    start = time.perf_counter()
    report = Report(layers_before=count_layers(model))
    result = _frozen(model) if inplace else _inference_copy(model)
    if torch.nn.modules.module._global_forward_hooks or torch.nn.modules.module._global_forward_pre_hooks:
        report.notes.append("global module hooks are registered: fused modules no longer call them")
    result = _rewrite(model, result, Job(report, channels_last, skip, result, args), inplace)
    if args is not None and "micro_batch" not in skip and _runs_on_cpu(result):
        _micro_batch(result, args, report)
    set_gpu_backend(result, gpu_backend)
    if block_cache and _runs_on_cpu(result):
        report.notes.append(memory.install_for_optimize())
    if args is not None:
        try:
            report.conv_kernels = _conv_kernels(result, args)  # also prepacks every conv weight for this shape
        except Exception as e:
            if inplace:
                raise
            _check_example_runs(model, args)
            result = _unoptimized(model, report, f"the optimized model failed on example_input ({error_line(e)})")
    if replay and not script and not cuda_graphs and _runs_on_cpu(result) and not isinstance(result, SmallCNN):
        # (a SmallCNN is one op call: a replay only adds its own ~2 us, LeNet-5 at batch 1 measured)
        result = Replay(result)
    if speed_check and args is not None and not inplace and not cuda_graphs:
        slower = slower_than_original(model, result, args)
        if slower is not None:
            result = _unoptimized(model, report, f"measured slower than the original on example_input "
                                  f"({slower[1] * 1e3:.3f} vs {slower[0] * 1e3:.3f} ms a call)")
    if isinstance(result, Replay):  # (not an unoptimized copy the speed check fell back to)
        report.notes.append("replay: the forward runs from recordings of its ops (cnnfast.replay; "
                            "result.replays() lists them)")
    describe(result.module if isinstance(result, Replay) else result, report)
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


def _rewrite(model: nn.Module, result: nn.Module, job: Job, inplace: bool) -> nn.Module:
    try:
        return optimize_module(result, job, "")
    except Exception as e:  # a bug outside the passes (their own errors are caught one by one)
        if inplace:
            raise
        return _unoptimized(model, job.report, f"rewriting failed ({error_line(e)})")


def _micro_batch(result: nn.Module, args, report: Report) -> None:
    """cnnfast/passes/micro_batch.py on the root graph, as one transaction: a failure puts the
    graph and its modules back and says so in the report."""
    gm = result.captured if isinstance(result, ShapeGuard) else result
    if not isinstance(gm, fx.GraphModule):
        return
    snapshot = _Snapshot(gm, report)
    try:
        micro_batch.run(gm, args, report)
    except Exception as e:  # a bug here must cost the split, never the user's model
        snapshot.restore(gm, report)
        gm.recompile()
        report.skip("<model>", f"pass micro_batch failed ({error_line(e)}); its changes were undone")


def _check_example_runs(model: nn.Module, args) -> None:
    """A ValueError when the model itself cannot run on example_input: the user's input is wrong,
    and an unoptimized copy would hide that."""
    try:
        with torch.inference_mode():
            model(*args)
    except Exception as e:
        raise ValueError(f"cnnfast.optimize: the model itself fails on example_input ({error_line(e, 200)})") from e


def _unoptimized(model: nn.Module, report: Report, why: str) -> nn.Module:
    """A plain copy of the model, and the reason in the report: optimize() returns something that
    runs whenever the model itself does."""
    report.skip("<model>", why + "; returned an unoptimized copy")
    report.fused.clear()
    report.sites.clear()
    report.captures.clear()
    return _inference_copy(model)


def _frozen(model: nn.Module) -> nn.Module:
    for p in model.parameters():
        if p.is_leaf:  # a deep-copied TorchScript child can hold non-leaf parameters
            p.requires_grad_(False)
    return model


def _inference_copy(model: nn.Module) -> nn.Module:
    return _frozen(copy.deepcopy(model))


def _conv_kernels(model: nn.Module, args) -> Counter:
    """Run the model once on args and count the CPU kernel each Conv2dBiasAct layer takes for the
    shape it sees there (the router's choice: cnnfast.config.conv_path_for), the convs inside the
    modules that call one op for them on the CPU (Conv2dBiasActMean, Conv1x1Depthwise and its
    Mean form) too."""
    from cnnfast.config import conv_path_for
    from cnnfast.nn import Conv1x1Depthwise, Conv1x1DepthwiseMean, Conv2dBiasAct, Conv2dBiasActMean

    kernels = Counter()

    def count(m: Conv2dBiasAct, x_shape, x: torch.Tensor):
        kernels[conv_path_for(x_shape, m.weight.shape, m.stride, m.padding, m.dilation, m.groups,
                              dtype=str(x.dtype).replace("torch.", ""),
                              channels_last=m.channels_last or x.is_contiguous(memory_format=torch.channels_last))] += 1

    seen = set()

    def record(m, inputs):
        x = inputs[0]
        if id(m) in seen:  # a layer in a micro-batch region runs once per chunk: count it once
            return
        seen.add(id(m))
        if x.device.type != "cpu" or x.dim() != 4:
            return  # on other devices and for unbatched inputs the modules call their inner convs
        if isinstance(m, Conv2dBiasActMean):
            count(m.conv, x.shape, x)
        elif isinstance(m, (Conv1x1Depthwise, Conv1x1DepthwiseMean)):
            m = m.pair if isinstance(m, Conv1x1DepthwiseMean) else m
            count(m.pointwise, x.shape, x)
            count(m.depthwise, (x.shape[0], m.pointwise.weight.shape[0], x.shape[2], x.shape[3]), x)
        else:
            count(m, x.shape, x)

    run_with_pre_hook(model, args, record,
                      where=lambda m: isinstance(m, (Conv2dBiasAct, Conv2dBiasActMean, Conv1x1Depthwise,
                                                     Conv1x1DepthwiseMean)))
    return kernels


def _runs_on_cpu(model: nn.Module) -> bool:
    tensors = list(model.parameters()) + list(model.buffers())
    return not tensors or any(t.device.type == "cpu" for t in tensors)


def _script(model: nn.Module, report: Report) -> nn.Module:
    import warnings

    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # TorchScript's deprecation notices
            return torch.jit.freeze(torch.jit.script(model))
    except Exception as e:  # a model TorchScript cannot compile still gets the eager result
        report.notes.append(f"script=True: TorchScript could not compile the model ({error_line(e)}); "
                            "returned the eager-mode result")
        return model
