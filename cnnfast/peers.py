"""What users would reach for instead of cnnfast, set up for `cnnfast bench --peers`: channels_last
eager, TorchScript trace+freeze+optimize_for_inference, torch.compile (inductor, freezing) and ONNX
Runtime (CPU, all graph optimisations) and OpenVINO (CPU, latency hint, f32) when installed. Each
peer is a callable taking the input."""

import copy
import io
import time
import warnings
from typing import Callable, Dict, Tuple

import torch

Peer = Callable[[torch.Tensor], object]


def _channels_last(model, x):
    m = copy.deepcopy(model).to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)  # converted once, outside the timing
    return lambda _: m(x_cl)


def _torchscript(model, x):
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        ts = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model, x)))
        ts(x)
    return ts


def _torch_compile(model, x):
    import torch._inductor.config as inductor_config

    compiled = torch.compile(model)
    # Same grad mode as the timed calls (inference_mode), or the first timed call recompiles.
    with inductor_config.patch(freezing=True), torch.inference_mode():
        compiled(x)  # the compile happens here, timed as this peer's setup
    return compiled


def _onnx_bytes(model, x) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), buf, dynamo=True, verbose=False)
    return buf.getvalue()


def _onnxruntime(onnx: bytes, x, threads):
    import onnxruntime as ort  # optional: pip install onnxruntime onnx onnxscript

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(onnx, opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    x_np = x.numpy()  # the hand-off to numpy is part of what a user pays, so it stays in the call
    return lambda inp: session.run(None, {name: inp.numpy() if inp is not x else x_np})


def _openvino(onnx: bytes, x, threads):
    import openvino as ov  # optional: pip install openvino

    core = ov.Core()
    compiled = core.compile_model(core.read_model(onnx), "CPU", {
        "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads,
        "NUM_STREAMS": 1})
    request = compiled.create_infer_request()
    x_np = x.numpy()
    return lambda inp: request.infer({0: inp.numpy() if inp is not x else x_np})


def build_peers(model: torch.nn.Module, x: torch.Tensor, threads: int) -> Tuple[Dict[str, Peer], Dict[str, float], Dict[str, str]]:
    """(peers by name, setup seconds by name, error by name for peers that could not be set up)."""
    makers = {"channels_last": lambda: _channels_last(model, x), "torchscript": lambda: _torchscript(model, x),
              "torch.compile": lambda: _torch_compile(model, x)}
    if x.device.type == "cpu":
        onnx = {}  # exported once, on first use, for both ONNX consumers

        def exported():
            if "bytes" not in onnx:
                onnx["bytes"] = _onnx_bytes(model, x)
            return onnx["bytes"]

        makers["onnxruntime"] = lambda: _onnxruntime(exported(), x, threads)
        makers["openvino"] = lambda: _openvino(exported(), x, threads)
    peers, setup, errors = {}, {}, {}
    for name, make in makers.items():
        start = time.perf_counter()
        try:
            peers[name] = make()
            setup[name] = time.perf_counter() - start
        except ImportError as e:
            errors[name] = f"not installed ({e.name})"
        except Exception as e:  # a peer that fails on a model is reported, not fatal
            errors[name] = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:120] if str(e).strip() else ''}"
    return peers, setup, errors
