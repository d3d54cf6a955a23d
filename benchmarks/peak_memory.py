"""Peak memory of one forward pass, measured in a fresh process so nothing else is resident.

Two numbers per forward, after the model is built, optimized and run once (weights prepacked):
- tensor_peak_mib: the most bytes held by live tensors at any moment of the call (from the
  profiler's allocation events; the CPU analogue of torch.cuda.max_memory_allocated). This is
  the figure that compares methods, independent of the allocator.
- rss_peak_mib: the growth of the process's peak resident set (VmHWM) over the call. With
  glibc's default dynamic mmap threshold it also counts heap left fragmented by earlier calls;
  with MALLOC_MMAP_THRESHOLD_=131072 in the environment it matches tensor_peak_mib within 1%.

    python -m benchmarks.peak_memory densenet121 --batch 8 --variant cnnfast   # one JSON line
    python -m benchmarks.peak_memory --table --models densenet121,googlenet,inception_v3 \
        --batch 1 8 --out benchmarks/results/cpu_peak_memory                   # table + JSON
"""

import argparse
import ctypes
import json
import subprocess
import sys


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _measure(model_name: str, batch: int, variant: str, threads: int) -> dict:
    import torch

    import cnnfast
    from cnnfast.models.registry import get
    from cnnfast.testing import randomize_batchnorm

    torch.set_num_threads(threads)
    spec = get(model_name)
    model = spec.build().eval()
    randomize_batchnorm(model)
    x = spec.example_input(batch)
    if variant == "cnnfast":
        model = cnnfast.optimize(model, example_input=x)
    elif variant == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        model(x)  # prepack, warm up
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current resident set
        base = _status_kib("VmRSS")
        model(x)
        rss_peak = (_status_kib("VmHWM") - base) / 1024
        tensor_peak = _tensor_peak_bytes(model, x) / 2**20
    return {"model": model_name, "batch": batch, "variant": variant, "tensor_peak_mib": tensor_peak,
            "rss_peak_mib": rss_peak}


def _tensor_peak_bytes(model, x) -> int:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        model(x)
    events = sorted((e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"),
                    key=lambda e: e.start_ns())
    live = peak = 0
    for e in events:
        live += e.nbytes()  # negative for frees
        peak = max(peak, live)
    return peak


def peak_memory(model_name: str, batch: int, variant: str, threads: int = 2) -> dict:
    """{"tensor_peak_mib", "rss_peak_mib"} of one forward of `variant` ("eager", "channels_last",
    "cnnfast"), measured in a fresh subprocess."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.peak_memory", model_name, "--batch", str(batch),
                          "--variant", variant, "--threads", str(threads)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(models, batches, variants=("eager", "channels_last", "cnnfast"), threads: int = 2) -> list:
    rows = []
    for model in models:
        for batch in batches:
            row = {"model": model, "batch": batch}
            for variant in variants:
                m = peak_memory(model, batch, variant, threads)
                row[variant] = {"tensor_peak_mib": m["tensor_peak_mib"], "rss_peak_mib": m["rss_peak_mib"]}
                print(f"{model} b{batch} {variant}: {m['tensor_peak_mib']:.1f} MiB in tensors, "
                      f"{m['rss_peak_mib']:.1f} MiB RSS", file=sys.stderr)
            rows.append(row)
    return rows


def markdown(rows) -> str:
    lines = ["| model | batch | eager MiB | channels_last MiB | cnnfast MiB | cnnfast / eager | "
             "RSS eager / cnnfast MiB |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        e, cl, c = (r[v]["tensor_peak_mib"] for v in ("eager", "channels_last", "cnnfast"))
        lines.append(f"| {r['model']} | {r['batch']} | {e:.1f} | {cl:.1f} | {c:.1f} | {c / e:.2f}x | "
                     f"{r['eager']['rss_peak_mib']:.0f} / {r['cnnfast']['rss_peak_mib']:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", nargs="?", help="one model, one variant: print one JSON line")
    p.add_argument("--batch", type=int, nargs="+", default=[1])
    p.add_argument("--variant", choices=["eager", "channels_last", "cnnfast"], default="cnnfast")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--table", action="store_true", help="every variant of --models at every --batch")
    p.add_argument("--models", default="densenet121,googlenet,inception_v3")
    p.add_argument("--out", help="with --table: write OUT.json and OUT.md")
    a = p.parse_args()
    if not a.table:
        if a.model is None:
            p.error("give a model name, or --table")
        print(json.dumps(_measure(a.model, a.batch[0], a.variant, a.threads)))
        return
    rows = table(a.models.split(","), a.batch, threads=a.threads)
    md = markdown(rows)
    print(md)
    if a.out:
        import platform

        import torch

        with open(a.out + ".json", "w") as f:
            json.dump({"machine": {"cpu": platform.processor() or platform.machine(), "threads": a.threads,
                                   "torch": torch.__version__}, "rows": rows}, f, indent=1)
        with open(a.out + ".md", "w") as f:
            f.write(md)


if __name__ == "__main__":
    main()
