"""Markdown tables from the GPU check's JSON (gpu_bench.py, and gpu_compile_peer.py if given).

    python benchmarks/gpu_summary.py benchmarks/results/gpu_h200/gpu_bench.json \\
        --peer benchmarks/results/gpu_h200/compile_peer.json --md benchmarks/results/gpu_h200/summary.md
"""

import argparse
import json

COLUMNS = [("eager", "eager"), ("eager_cl", "eager CL"), ("eager_cl_amp", "CL + AMP"),
           ("compile_max-autotune", "compile max-autotune"), ("compile_reduce-overhead", "compile reduce-overhead"),
           ("cnnfast", "cnnfast cuda"), ("cnnfast_cuda_graphs", "cnnfast cuda + graphs"),
           ("cnnfast_cudnn_cuda_graphs", "cnnfast cudnn + graphs"), ("cnnfast_triton_cuda_graphs", "cnnfast triton + graphs")]


def table(bench, peer=None):
    rows = bench["rows"]
    head = ["model", "batch", "dtype"] + [label for _, label in COLUMNS] + ["best cnnfast / eager CL"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 3 + "---:|" * (len(head) - 3)]
    for r in rows:
        ms = dict(r["ms"])
        if peer and (r["model"], r["batch"], r["dtype"]) == (peer["model"], peer["batch"], peer["dtype"]):
            for k, v in peer["ms"].items():
                if k.startswith("compile_"):
                    ms.setdefault(k, v)
        best = min(v for k, v in ms.items() if k.startswith("cnnfast"))
        cells = [r["model"], str(r["batch"]), r["dtype"]]
        cells += [f"{ms[k]:.3f}" if k in ms else "" for k, _ in COLUMNS]
        cells.append(f"{best / ms['eager_cl']:.2f}x")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("bench")
    p.add_argument("--peer")
    p.add_argument("--md")
    args = p.parse_args(argv)
    bench = json.load(open(args.bench))
    peer = json.load(open(args.peer)) if args.peer else None
    text = (f"{bench['device']}, torch {bench['torch']}, CUDA {bench['cuda']}, cuDNN {bench['cudnn']}; "
            f"settings {bench['settings']}. Milliseconds per forward (median of CUDA-event timings, host "
            "launch time included); channels_last input for every method but `eager`.\n\n" + table(bench, peer))
    if peer:
        text += (f"\n\nCompile columns of {peer['model']} b{peer['batch']} {peer['dtype']} from "
                 f"gpu_compile_peer.py (another call on the same kind of machine; its eager CL "
                 f"baseline {peer['ms']['eager_cl']:.3f} / {peer['ms']['eager_cl_after']:.3f} ms before/after; "
                 f"compile times: " + ", ".join(f"{k} {v:.0f} s" for k, v in peer["compile_s"].items()) + ").")
    print(text)
    if args.md:
        with open(args.md, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
