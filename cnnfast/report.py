"""What optimize() made of a model: each fused module with its pattern, every layer left unfused
with its reason, coverage per kind, the capture route of each part, and the passes' record."""

from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Tuple


@dataclass
class Report:
    # The result (cnnfast.describe): each fused module once, and what was left.
    final: List[Tuple[str, str]] = field(default_factory=list)  # (module path, pattern)
    unfused: List[Tuple[str, str, str]] = field(default_factory=list)  # (module path, kind, reason)
    coverage: Dict[str, Tuple[int, int]] = field(default_factory=dict)  # kind -> (fused, total)
    layers_before: Counter = field(default_factory=Counter)  # kind -> layers in the input model
    # The passes' record: every rewrite as it happened (a conv fused, then its ReLU, counts twice).
    fused: Counter = field(default_factory=Counter)  # pattern -> number of sites
    sites: List[Tuple[str, str]] = field(default_factory=list)  # (module path, pattern)
    skipped: List[Tuple[str, str]] = field(default_factory=list)  # (module path, reason)
    notes: List[str] = field(default_factory=list)
    captures: List[Tuple[str, str]] = field(default_factory=list)  # (module path, route: "fx" or "shapes")
    seconds: float = 0.0
    check: object = None  # a cnnfast.verify.Verification when optimize(check=True) ran
    # CPU kernel -> number of conv2d_bias_act layers that run on it (cnnfast.config.CONV_PATHS),
    # read off the example_input run; empty without one (the kernel depends on the input shape).
    conv_kernels: Counter = field(default_factory=Counter)

    def add(self, pattern: str, where: str) -> None:
        self.fused[pattern] += 1
        self.sites.append((where, pattern))

    def skip(self, where: str, reason: str) -> None:
        self.skipped.append((where, reason))

    def __str__(self) -> str:
        patterns = Counter(p for _, p in self.final)
        lines = [f"cnnfast.optimize: {len(self.final)} fused modules and rewrites in {self.seconds:.2f} s"]
        width = max([len(p) for p in patterns] + [7])
        for pattern, n in sorted(patterns.items()):
            lines.append(f"  {pattern:<{width}}  {n:4d}")
        if not self.final:
            lines.append("  (nothing fused)")
        if self.coverage:
            lines.append("coverage: " + ", ".join(f"{kind} {f}/{n}" for kind, (f, n) in self.coverage.items()))
        if self.captures:
            routes = Counter(route for _, route in self.captures)
            lines.append("captured by: " + ", ".join(f"{r} {n}" for r, n in sorted(routes.items()))
                         + "".join(f" ({w} with shapes)" for w, r in self.captures if r == "shapes"))
        if self.unfused:
            lines.append(f"left unfused {len(self.unfused)}:")
            for where, kind, reason in self.unfused[:30]:
                lines.append(f"  {where} ({kind}): {reason}")
            if len(self.unfused) > 30:
                lines.append(f"  ... and {len(self.unfused) - 30} more (report.unfused)")
        other = [(w, r) for w, r in self.skipped if not any(w == u for u, _, _ in self.unfused)]
        if other:
            lines.append(f"skipped {len(other)}:")
            lines += _grouped(other)
        if self.conv_kernels:
            lines.append("conv kernels (CPU, example input): " + ", ".join(
                f"{path} {n}" for path, n in self.conv_kernels.most_common()))
        if self.check is not None:
            lines.append(str(self.check))
        for note in self.notes:
            lines.append(f"note: {note}")
        return "\n".join(lines)

    __repr__ = __str__


def _grouped(skipped: List[Tuple[str, str]], listed: int = 3) -> List[str]:
    """One line per skip, except that a reason given for more than `listed` sites is one line with
    the count and the first few sites (ResNet-50's 36 convs that the sibling pass leaves apart)."""
    by_reason: Dict[str, List[str]] = {}
    for where, reason in skipped:
        by_reason.setdefault(reason, []).append(where or "<model>")
    lines = []
    for reason, sites in by_reason.items():
        if len(sites) > listed:
            lines.append(f"  {len(sites)} sites ({', '.join(sites[:listed])}, ...): {reason}")
        else:
            lines += [f"  {where}: {reason}" for where in sites]
    return lines


def error_line(e: BaseException, width: int = 160) -> str:
    """An exception as the report shows it: its type and the first line of its message."""
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0][:width]}" if text else type(e).__name__


def report(model) -> Report:
    """The Report attached to a model returned by cnnfast.optimize()."""
    rep = getattr(model, "_cnnfast_report", None)
    if rep is None:
        raise ValueError("cnnfast.report: this model was not returned by cnnfast.optimize()")
    return rep
