"""torch.compile as the GPU peer, on its own: ResNet-50 (or --model) fp16 channels_last, eager
channels_last as the common baseline, then compile modes in order, JSON after each.

A max-autotune compile of ResNet-50 took over 4 minutes on an H200 (24 autotuned ops, 7-22 s
each), longer than one short device lease leaves after building cnnfast. This script needs no
cnnfast build, so it can run beside the build in the same call; gpu_bench.py then measures
cnnfast and the same eager baseline in that call, and the two JSON files are compared.

    python benchmarks/gpu_compile_peer.py --out compile.json [--modes max-autotune,reduce-overhead]
"""

import argparse
import json
import sys
import time

import torch
import torchvision

from gpu_timing import median_ms as _time  # benchmarks/, the script's own folder


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--model", default="resnet50")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--modes", default="max-autotune,reduce-overhead")
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        sys.exit("gpu_compile_peer: no CUDA device visible")
    torch.backends.cudnn.benchmark = True  # as gpu_bench.py, for every method
    start = time.time()
    model = getattr(torchvision.models, args.model)().eval().cuda().half().to(memory_format=torch.channels_last)
    x = torch.randn(args.batch, 3, 224, 224, device="cuda", dtype=torch.float16).contiguous(
        memory_format=torch.channels_last)
    result = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "model": args.model,
              "batch": args.batch, "dtype": "float16", "ms": {}, "compile_s": {}}

    def save():
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)

    with torch.inference_mode():
        result["ms"]["eager_cl"] = _time(model, x)
        save()
        for mode in args.modes.split(","):
            torch._dynamo.reset()
            t = time.time()
            compiled = torch.compile(model, mode=mode)
            compiled(x)
            result["compile_s"][mode] = time.time() - t
            result["ms"][f"compile_{mode}"] = _time(compiled, x)
            print(f"[{time.time() - start:5.0f} s] {mode}: compile {result['compile_s'][mode]:.0f} s, "
                  f"{result['ms'][f'compile_{mode}']:.3f} ms", flush=True)
            save()
        result["ms"]["eager_cl_after"] = _time(model, x)  # the machine did not drift meanwhile
        save()


if __name__ == "__main__":
    main()
