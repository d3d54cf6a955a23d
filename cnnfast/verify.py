"""cnnfast.verify(): how far an optimized model's output is from the original's on given inputs."""

from dataclasses import dataclass

import torch

# Relative to the largest output magnitude: fp32 BN folding and oneDNN's summation order move
# the last bits (seen up to ~4e-6 on the lecture models); half types round every intermediate.
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-4, torch.bfloat16: 5e-2, torch.float16: 1e-2}


@dataclass
class Verification:
    max_abs_diff: float
    max_rel_diff: float  # max |fast - ref| / max |ref|
    tolerance: float
    same_nan: bool  # NaN/Inf in the same places
    dtype: torch.dtype

    @property
    def ok(self) -> bool:
        return self.same_nan and self.max_rel_diff <= self.tolerance

    def __str__(self) -> str:
        verdict = "OK" if self.ok else "MISMATCH"
        return (f"cnnfast.verify: {verdict}: max |diff| {self.max_abs_diff:.3e}, relative {self.max_rel_diff:.3e} "
                f"(tolerance {self.tolerance:.0e} for {str(self.dtype).replace('torch.', '')})"
                + ("" if self.same_nan else "; NaN/Inf positions differ"))


def _tensors(out):
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _tensors(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _tensors(o)]
    return []


def verify(model: torch.nn.Module, fast: torch.nn.Module, *inputs, tolerance: float = None) -> Verification:
    """Run both models on `inputs` (under inference_mode) and compare every output tensor."""
    with torch.inference_mode():
        ref, out = _tensors(model(*inputs)), _tensors(fast(*inputs))
    if len(ref) != len(out) or any(r.shape != o.shape for r, o in zip(ref, out)):
        raise ValueError("cnnfast.verify: the models return differently shaped outputs")
    dtype = ref[0].dtype if ref else torch.float32
    tol = tolerance if tolerance is not None else TOLERANCE.get(dtype, 1e-4)
    max_abs, scale, same_nan = 0.0, 0.0, True
    for r, o in zip(ref, out):
        r64, o64 = r.double(), o.double()
        finite = torch.isfinite(r64)
        same_nan &= bool(torch.equal(finite, torch.isfinite(o64))) and bool(
            torch.equal(r64[~finite].nan_to_num(), o64[~finite].nan_to_num()))
        if finite.any():
            max_abs = max(max_abs, (r64[finite] - o64[finite]).abs().max().item())
            scale = max(scale, r64[finite].abs().max().item())
    rel = max_abs / scale if scale > 0 else max_abs
    return Verification(max_abs, rel, tol, same_nan, dtype)
