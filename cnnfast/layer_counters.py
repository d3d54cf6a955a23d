"""Per-layer time of one runtime on one model, read from that runtime's own counters: torch's
profiler for cnnfast, ONNX Runtime's node profiler, OpenVINO's PERF_COUNT. Run alone in a fresh
process (as `cnnfast bench --peers` times them: the runtimes' thread pools slow each other when
they share a process); prints one JSON line

    {"layers": [{"op": str, "conv": [C, H, W, K, Cg, R, S, OH, OW] | null, "impl": str, "us": float}],
     "wall_ms": float, "form": str}

`us` is the mean time per inference of that layer (a layer that runs several times, e.g. a
ResNet-18 3x3 repeated, is one row per call site); `wall_ms` the mean whole-inference time with
the counters off, so a reader sees what the counters themselves cost. For cnnfast both forms
`cnnfast bench` times are built (the module, and TorchScript via optimize(script=True)) and the
faster is profiled: `form` says which. A conv's signature leaves
out the batch (the same everywhere) and is what joins the three runtimes' rows.

    python -m cnnfast.layer_counters --model resnet18 --batch 1 --method openvino --onnx m.onnx
"""

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import torch

from cnnfast import worker_io

METHODS = ("cnnfast", "onnxruntime", "openvino")


def conv_signature(x_shape: Sequence[int], w_shape: Sequence[int], out_hw: Sequence[int]) -> List[int]:
    """[C, H, W, K, C/groups, R, S, OH, OW] of a conv with input (N, C, H, W), filter (K, C/g, R, S)
    (or OpenVINO's grouped (G, K/G, C/G, R, S)) and output spatial size out_hw."""
    if len(w_shape) == 5:
        w_shape = [w_shape[0] * w_shape[1], *w_shape[2:]]
    _, c, h, w = (int(v) for v in x_shape)
    k, cg, r, s = (int(v) for v in w_shape)
    return [c, h, w, k, cg, r, s, int(out_hw[0]), int(out_hw[1])]


def _wall_ms(fn, runs: int) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        fn()
    return (time.perf_counter() - start) * 1e3 / runs


def _cnnfast(model_name: str, batch: int, runs: int):
    import cnnfast
    from cnnfast import config, models
    from cnnfast.contracts.geometry import conv_output_size
    from cnnfast.testing import randomize_batchnorm
    from torch.profiler import ProfilerActivity, profile

    spec = models.get(model_name)
    torch.manual_seed(0)
    eager = randomize_batchnorm(spec.build()).eval()
    x = spec.example_input(batch)
    # Both forms cnnfast bench times (the module, and frozen TorchScript with no Python between
    # the ops); the faster one is profiled, as the peers table takes the faster one.
    forms = {"module": cnnfast.optimize(eager, example_input=x),
             "script": cnnfast.optimize(eager, example_input=x, script=True)}
    walls = {}
    with torch.inference_mode():
        for name, model in forms.items():
            for _ in range(3):
                model(x)
            walls[name] = _wall_ms(lambda: model(x), runs)
        form = min(walls, key=walls.get)
        fast, wall = forms[form], walls[form]
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            for _ in range(runs):
                fast(x)
    # Outermost ops only (aten::empty inside a cnnfast op is in its parent's time; TorchScript's
    # `forward` frames are not ops), in call order; the model is static, so the k-th op of every
    # run is the same call site.
    def outermost_op(e) -> bool:
        if "::" not in e.name:
            return False
        p = e.cpu_parent
        while p is not None:
            if "::" in p.name:
                return False
            p = p.cpu_parent
        return True

    events = sorted((e for e in prof.events() if outermost_op(e)), key=lambda e: e.time_range.start)
    per_run = len(events) // runs
    layers = []
    for site in range(per_run):
        e = events[site]
        us = sum(events[site + r * per_run].cpu_time_total for r in range(runs)) / runs
        shapes, args = e.input_shapes, getattr(e, "concrete_inputs", None) or []
        conv, impl = None, ""
        # conv2d_bias_act_mean: the conv, with its SE block's squeeze inside (the peers count that
        # pool apart, as ReduceMean / GlobalAveragePool).
        if e.name in ("cnnfast::conv2d_bias_act", "cnnfast::conv2d_bias_act_out",
                      "cnnfast::conv2d_bias_act_mean") and len(args) >= 7:
            (sh, sw), (ph, pw), (dh, dw), groups = args[3], args[4], args[5], args[6]
            xs, ws = shapes[0], shapes[1]
            out_hw = [conv_output_size(xs[2], ws[2], sh, ph, dh), conv_output_size(xs[3], ws[3], sw, pw, dw)]
            conv = conv_signature(xs, ws, out_hw)
            impl = config.conv_path_for(xs, ws, args[3], args[4], args[5], groups)
        elif e.name == "cnnfast::preact_conv1x1":
            xs, ws = shapes[0], shapes[3]
            pool = args[6] if len(args) > 6 and args[6] else 1
            conv = conv_signature(xs, ws, [xs[2] // pool, xs[3] // pool])
            impl = "preact_conv1x1"
        elif e.name in ("cnnfast::conv1x1_depthwise", "cnnfast::conv1x1_depthwise_mean") and len(args) >= 9:
            # One call for two convs: filed under the depthwise conv (its output), the 1x1 conv's
            # time inside it; the peers' 1x1 row has no cnnfast time.
            (sh, sw), (ph, pw), (dh, dw) = args[6], args[7], args[8]
            xs, w1s, ws = shapes[0], shapes[1], shapes[4]
            mid = [xs[0], w1s[0], xs[2], xs[3]]
            out_hw = [conv_output_size(xs[2], ws[2], sh, ph, dh), conv_output_size(xs[3], ws[3], sw, pw, dw)]
            conv = conv_signature(mid, ws, out_hw)
            fused = config.conv1x1_depthwise_fuses(xs, w1s, ws, args[6])
            impl = "1x1+depthwise" + ("" if fused else " (2 calls)")
        layers.append({"op": e.name, "conv": conv, "impl": impl, "us": us})
    return layers, wall, form


def _onnxruntime(onnx_path: str, x, threads: int, runs: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    plain = ort.InferenceSession(onnx_path, opts, providers=["CPUExecutionProvider"])
    feed = {plain.get_inputs()[0].name: x.numpy()}
    for _ in range(3):
        plain.run(None, feed)
    wall = _wall_ms(lambda: plain.run(None, feed), runs)
    plain = None  # its thread pool goes before the profiled session's starts
    opts.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:  # ONNX Runtime writes its trace to a file
        opts.profile_file_prefix = os.path.join(tmp, "ort")
        session = ort.InferenceSession(onnx_path, opts, providers=["CPUExecutionProvider"])
        for _ in range(3):
            session.run(None, feed)
        for _ in range(runs):
            session.run(None, feed)
        with open(session.end_profiling()) as f:
            events = json.load(f)
    nodes = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    # The profile also holds the warm-up runs: keep the last `runs` calls of every node.
    by_node: Dict[str, List[dict]] = defaultdict(list)
    for e in nodes:
        by_node[e["name"]].append(e)
    layers = []
    for name, evs in by_node.items():
        evs = evs[-runs:]
        a = evs[-1]["args"]
        op = a.get("op_name", "?")
        conv = None
        ins, outs = a.get("input_type_shape", []), a.get("output_type_shape", [])
        if op in ("Conv", "FusedConv", "NchwcConv") and len(ins) >= 2 and outs:
            xs, ws, ys = (list(d.values())[0] for d in (ins[0], ins[1], outs[0]))
            if len(xs) == 4 and len(ws) == 4:
                conv = conv_signature(xs, ws, ys[2:4])
        impl = "nchwc" if "_nchwc_" in name else ""
        layers.append({"op": op, "conv": conv, "impl": impl, "us": sum(e["dur"] for e in evs) / len(evs)})
    return layers, wall


def _openvino(onnx_path: str, x, threads: int, runs: int):
    import openvino as ov

    core = ov.Core()
    cfg = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads,
           "NUM_STREAMS": 1}
    x_np = x.numpy()
    plain = core.compile_model(core.read_model(onnx_path), "CPU", cfg).create_infer_request()
    for _ in range(3):
        plain.infer({0: x_np})
    wall = _wall_ms(lambda: plain.infer({0: x_np}), runs)
    plain = None  # its thread pool goes before the profiled session's starts
    compiled = core.compile_model(core.read_model(onnx_path), "CPU", {**cfg, "PERF_COUNT": True})
    request = compiled.create_infer_request()
    for _ in range(3):
        request.infer({0: x_np})
    shapes = {}
    for op in compiled.get_runtime_model().get_ordered_ops():
        ins = [op.input(i).get_partial_shape() for i in range(op.get_input_size())]
        if len(ins) >= 2 and all(s.is_static for s in ins[:2]) and op.get_output_size():
            shapes[op.get_friendly_name()] = ([d.get_length() for d in ins[0]], [d.get_length() for d in ins[1]],
                                              [d.get_length() for d in op.output(0).get_partial_shape()])
    total: Dict[str, float] = defaultdict(float)
    info: Dict[str, tuple] = {}
    for _ in range(runs):  # the counters hold the last inference only
        request.infer({0: x_np})
        for p in request.get_profiling_info():
            if p.status == p.Status.EXECUTED:
                total[p.node_name] += p.real_time.total_seconds() * 1e6
                info[p.node_name] = (p.node_type, p.exec_type)
    layers = []
    for name, us in total.items():
        node_type, exec_type = info[name]
        conv = None
        if node_type in ("Convolution", "GroupConvolution") and name in shapes:
            xs, ws, ys = shapes[name]
            if len(xs) == 4 and len(ws) in (4, 5):
                conv = conv_signature(xs, ws, ys[2:4])
        layers.append({"op": node_type, "conv": conv, "impl": exec_type, "us": us / runs})
    return layers, wall


def collect(method: str, model_name: str, batch: int, onnx_path: Optional[str], threads: int, runs: int) -> dict:
    torch.set_num_threads(threads)
    form = method
    if method == "cnnfast":
        layers, wall, form = _cnnfast(model_name, batch, runs)
    else:
        from cnnfast import models

        spec = models.get(model_name)
        x = spec.example_input(batch)
        make = _onnxruntime if method == "onnxruntime" else _openvino
        layers, wall = make(onnx_path, x, threads, runs)
    return {"layers": layers, "wall_ms": wall, "form": form}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="per-layer counters of one runtime, in this process")
    worker_io.add_worker_arguments(p, METHODS)
    p.add_argument("--runs", type=int, default=20)
    a = p.parse_args(argv)
    worker_io.enter_as_avx2(a)
    return worker_io.report(lambda: collect(a.method, a.model, a.batch, a.onnx, a.threads, a.runs))


if __name__ == "__main__":
    sys.exit(main())
