"""What `cnnfast bench` prints and draws from its result rows: the tables and the speedup chart."""

from typing import Dict, List

from cnnfast import worker_io


PEER_COLUMNS = [("channels_last", "CL"), ("torchscript", "TorchScript"), ("torch.compile", "compile"),
                ("onnxruntime", "ORT"), ("openvino", "OpenVINO")]


def format_peer_table(rows: List[Dict]) -> str:
    head = ["model", "batch", "eager ms", "cnnfast ms", "cnnfast script ms"] + [f"{c} ms" for _, c in PEER_COLUMNS] + [
        "best peer", "best cnnfast / best peer", "compile s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for r in rows:
        script_ms = r.get("cnnfast_script_ms")
        cells = [r["model"], str(r["batch"]), f"{r['eager_ms']:.2f}", f"{r['cnnfast_ms']:.2f}",
                 f"{script_ms:.2f}" if script_ms is not None else "n/a"]
        cells += [f"{r['peers_ms'][p]:.2f}" if p in r["peers_ms"] else "n/a" for p, _ in PEER_COLUMNS]
        ratio = r["cnnfast_vs_best_peer"]
        cells += [r["best_peer"] or "n/a", f"{ratio:.2f}x" if ratio else "n/a",
                  f"{r['peer_setup_s']['torch.compile']:.1f}" if "torch.compile" in r["peer_setup_s"] else "n/a"]
        lines.append("| " + " | ".join(cells) + " |")
    avx2_rows = [r for r in rows if r.get("as_avx2")]
    if avx2_rows:
        lines += ["", "run as on a CPU without AVX-512 (--as-avx2): " + worker_io.as_avx2_note(avx2_rows)]
    traps = max((r.get("cpuid_traps_timed", 0) for r in avx2_rows), default=0)
    if traps:
        lines += [f"warning: up to {traps} CPUID traps inside a timed loop (~1 us each): those times are inflated"]
    errors = [f"{r['model']} b{r['batch']} {p}: {e}" for r in rows for p, e in r["peer_errors"].items()]
    if errors:
        lines += ["", "peers not measured: " + "; ".join(sorted(set(errors)))]
    return "\n".join(lines)


def write_chart(rows: List[Dict], path: str) -> bool:
    """Speedup over eager per model and method as a PNG; False when matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    scripted = any(r.get("cnnfast_script_ms") for r in rows)
    methods = ["cnnfast"] + (["cnnfast script"] if scripted else []) + sorted({p for r in rows for p in r["peers_ms"]})

    def ms(r, m):
        if m == "cnnfast":
            return r["cnnfast_ms"]
        if m == "cnnfast script":
            return r.get("cnnfast_script_ms") or float("nan")
        return r["peers_ms"].get(m, float("nan"))

    labels = [f"{r['model']} b{r['batch']}" for r in rows]
    # Horizontal bars, one group per (model, batch) row: stays readable for the whole zoo with
    # every peer (a vertical layout grew to 60 inches wide).
    height = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(10, min(60, max(4, 0.11 * len(rows) * len(methods) + 1.5))))
    for i, m in enumerate(methods):
        speedups = [r["eager_ms"] / ms(r, m) for r in rows]
        ax.barh([k + i * height for k in range(len(rows))], speedups, height, label=m)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks([k + 0.4 - height / 2 for k in range(len(rows))])
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()  # first model at the top, as in the table
    ax.set_xlabel("speedup over eager PyTorch (higher is better)")
    ax.set_title("cnnfast bench")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def format_table(rows: List[Dict]) -> str:
    head = ["model", "batch", "GFLOP", "eager ms", "cnnfast ms", "speedup", "GFLOP/s",
            "max rel err", "fusions", "optimize s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['batch']} | {r['gflop']:.3g} | {r['eager_ms']:.2f} | {r['cnnfast_ms']:.2f} | "
            f"{r['speedup']:.2f}x | {r['gflops_per_s']:.0f} | {r['max_rel_err']:.1e} | {r['fusions']} | "
            f"{r['optimize_s']:.2f} |")
    return "\n".join(lines)
