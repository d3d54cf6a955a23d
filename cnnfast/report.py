"""What optimize() did to a model: fusions per pattern, and every skipped site with its reason."""

from collections import Counter
from dataclasses import dataclass, field
from typing import List, Tuple


@dataclass
class Report:
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
        lines = [f"cnnfast.optimize: {sum(self.fused.values())} fusions in {self.seconds:.2f} s"]
        width = max([len(p) for p in self.fused] + [7])
        for pattern, n in sorted(self.fused.items()):
            lines.append(f"  {pattern:<{width}}  {n:4d}")
        if not self.fused:
            lines.append("  (nothing fused)")
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)}:")
            for where, reason in self.skipped:
                lines.append(f"  {where or '<model>'}: {reason}")
        if self.conv_kernels:
            lines.append("conv kernels (CPU, example input): " + ", ".join(
                f"{path} {n}" for path, n in self.conv_kernels.most_common()))
        if self.check is not None:
            lines.append(str(self.check))
        for note in self.notes:
            lines.append(f"note: {note}")
        return "\n".join(lines)

    __repr__ = __str__


def report(model) -> Report:
    """The Report attached to a model returned by cnnfast.optimize()."""
    rep = getattr(model, "_cnnfast_report", None)
    if rep is None:
        raise ValueError("cnnfast.report: this model was not returned by cnnfast.optimize()")
    return rep
