"""Turn a pytest-benchmark JSON (--benchmark-autosave/--benchmark-json) into a side-by-side table.

    python benchmarks/summarize.py [RUN.json] [--out benchmarks/results/NAME.json] [--md FILE.md]

Each benchmark group (one layer or model at one batch size) becomes a row with every provider's
median and cnnfast's time relative to each other provider. With no path, the newest autosaved run.
"""

import argparse
import glob
import json
import os
import statistics
import sys


def newest_run():
    runs = sorted(glob.glob(os.path.join(".benchmarks", "**", "*.json"), recursive=True), key=os.path.getmtime)
    if not runs:
        sys.exit("no saved runs under .benchmarks/: run `pytest benchmarks --benchmark-autosave` first")
    return runs[-1]


def summarize(data):
    groups = {}
    for b in data["benchmarks"]:
        provider = b.get("extra_info", {}).get("provider") or b["param"]
        groups.setdefault(b["group"], {})[provider] = {"median_ms": b["stats"]["median"] * 1e3,
                                                       "rounds": b["stats"]["rounds"],
                                                       **b.get("extra_info", {})}
    rows = []
    for group, providers in groups.items():
        row = {"group": group, "providers": providers}
        if "cnnfast" in providers:
            fast = providers["cnnfast"]["median_ms"]
            row["cnnfast_vs"] = {p: fast / v["median_ms"] for p, v in providers.items() if p != "cnnfast"}
        rows.append(row)
    return rows


def markdown(rows):
    """One table per benchmark kind (the group's first word: conv, se_squeeze, model, ...), each
    with the providers that kind has."""
    kinds = {}
    for r in rows:
        kinds.setdefault(r["group"].split(" ", 1)[0], []).append(r)
    return "\n\n".join(_table(kind_rows) for kind_rows in kinds.values())


def _table(rows):
    providers = sorted({p for r in rows for p in r["providers"]}, key=lambda p: (p == "cnnfast", p))
    others = [p for p in providers if p != "cnnfast"]
    head = ["benchmark"] + [f"{p} ms" for p in providers] + [f"cnnfast / {p}" for p in others]
    out = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for r in rows:
        cells = [r["group"]]
        cells += [f"{r['providers'][p]['median_ms']:.3f}" if p in r["providers"] else "" for p in providers]
        vs = r.get("cnnfast_vs", {})
        cells += [f"{vs[p]:.2f}x" if p in vs else "" for p in others]
        out.append("| " + " | ".join(cells) + " |")
    base = "eager" if any("eager" in r.get("cnnfast_vs", {}) for r in rows) else next(
        (p for p in others if p.startswith("eager")), None)
    ratios = [r["cnnfast_vs"][base] for r in rows if base in r.get("cnnfast_vs", {})]
    if ratios:
        slower = [r["group"] for r in rows if r.get("cnnfast_vs", {}).get(base, 0) > 1.0]
        out.append("")
        out.append(f"cnnfast / {base} over {len(ratios)} rows: median {statistics.median(ratios):.2f}x, "
                   f"best {min(ratios):.2f}x, worst {max(ratios):.2f}x; slower than {base} in "
                   f"{len(slower)} rows" + (f": {', '.join(slower)}" if slower else ""))
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", nargs="?", help="pytest-benchmark JSON (default: newest under .benchmarks/)")
    p.add_argument("--out", help="write the condensed rows and machine info as JSON here")
    p.add_argument("--md", help="write the markdown table here too")
    args = p.parse_args(argv)
    path = args.run or newest_run()
    with open(path) as f:
        data = json.load(f)
    rows = summarize(data)
    table = markdown(rows)
    print(f"from {path}\n\n{table}")
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w") as f:
            json.dump({"machine_info": data.get("machine_info"), "datetime": data.get("datetime"),
                       "source": os.path.basename(path), "rows": rows}, f, indent=1)
    if args.md:
        with open(args.md, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
