"""Replay: run an optimized CPU model's forward pass without Python, from a recording of its ops.

A fused model still runs its forward in Python: ~55 module calls for MobileNetV3-L, each a few
microseconds of interpreter work around a kernel of tens of microseconds. Measured at batch 1
(AMD EPYC Zen 4, 2 threads): 4.32 ms a call in Python against 3.50 ms for the same modules under
TorchScript, with equal kernel times under torch.profiler; ~15 us a fused module. The ops
themselves are custom ops and ATen ops reached through the dispatcher, so the order of calls is
all a forward pass is, for one input signature.

Replay records that order (a TorchDispatchMode sees every call, its arguments and results) and
hands it to C++ (csrc/replay/op_program.cpp), which reruns it: constants (weights, int lists)
held, computed tensors in slots dropped after their last reader. It is the CPU counterpart of
cnnfast.cuda_graphs: one recording per input signature (shapes, strides, dtype, grad mode,
thread count), kept when two calls in a row record the same program (a first call that packs
weights or warns records differently and is not kept), and the Python forward for anything else.

A recording is refused, and that signature keeps running in Python, where a replay could
differ: an op that returns a Python value (`x.item()`, `bool(x)`: the forward may branch on
it), a tensor off the CPU (GPU kernels such as Triton's run outside the dispatcher), a tensor
computed in the forward that reaches an op under an identity the dispatcher never made
(`torch.from_numpy(x.numpy())`), module hooks, or calls whose op sequence changes from call to call. `replays()` says
what each signature runs and why.

What a recording cannot see: Python side effects (a counter, a print) run only while recording,
and changes to the module after it (a new hook, a swapped submodule) are not picked up: call
`reset()` after such a change (`.to()`, `.half()` and friends reset by themselves).
"""

import copy
import inspect
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from torch.utils._pytree import tree_flatten, tree_unflatten
from torch.utils._python_dispatch import TorchDispatchMode

from cnnfast import _C
from cnnfast.passes._graph import has_hooks

# A signature is kept when this many calls in a row record the same program.
AGREEING_RECORDINGS = 2
# After this many recordings without two agreeing, the signature stays in Python.
MAX_RECORDINGS = 4
# Signatures beyond this many run in Python (each holds a program).
MAX_SIGNATURES = 16


class _Recording(TorchDispatchMode):
    """Feeds every op call made under it to an _OpRecorder; the calls themselves run unchanged."""

    def __init__(self, recorder):
        super().__init__()
        self.recorder = recorder

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.recorder.reason is None:
            schema = func._schema
            self.recorder.add(schema.name, schema.overload_name, tuple(args), kwargs, out)
        return out


class _Program:
    """A kept recording: the C++ program and how to rebuild the forward's output from its slots."""

    def __init__(self, program, spec, leaves: List, positions: List[int]):
        self.program, self.spec, self.leaves, self.positions = program, spec, leaves, positions
        self.one_tensor = spec.is_leaf() and positions == [0]  # the common case, without the pytree

    def __call__(self, args):
        if self.one_tensor:
            return self.program.run(list(args))[0]
        leaves = list(self.leaves)  # constants in place, tensor slots filled below
        for i, t in zip(self.positions, self.program.run(list(args))):
            leaves[i] = t
        return tree_unflatten(leaves, self.spec)


def record(module: nn.Module, args: Tuple[torch.Tensor, ...]):
    """Run module(*args) once under the recorder: (output, _Program or None, reason or None)."""
    recorder = _C._OpRecorder(list(args))
    with _Recording(recorder):
        out = module(*args)
    if recorder.reason is not None:
        return out, None, recorder.reason
    leaves, spec = tree_flatten(out)
    positions, slots = [], []
    for i, leaf in enumerate(leaves):
        if isinstance(leaf, torch.Tensor):
            slot = recorder.slot(leaf)
            if slot == -2:
                return out, None, recorder.reason
            if slot >= 0:
                positions.append(i)
                slots.append(slot)
    kept = [None if i in positions else leaf for i, leaf in enumerate(leaves)]
    return out, _Program(recorder.finish(slots), spec, kept, positions), None


class Replay(nn.Module):
    """Runs `module` (an inference model on the CPU) from recordings of its ops: see the module
    docstring. Attribute reads it does not define itself go to `module`, and its state_dict is
    the module's own, so code written for the wrapped model keeps working.

    TorchScript, torch.compile/torch.export and torch.fx tracing see `module` itself."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module
        self.training = module.training
        # signature -> _Program (kept), str (why it runs in Python) or list of fingerprints so far
        self._entries: Dict[Tuple, object] = {}
        self._install_forward()

    def _install_forward(self) -> None:
        """forward() with the wrapped model's own signature, so that torch.export's dynamic_shapes
        and anything else that binds arguments by name see the same parameters."""

        def forward(*args, **kwargs):
            return self._forward(args, kwargs)

        try:
            forward.__signature__ = inspect.signature(self.module.forward)
        except (TypeError, ValueError):
            pass
        self.__dict__["forward"] = forward

    def _forward(self, args, kwargs):
        if kwargs or torch.compiler.is_compiling() or torch.jit.is_tracing():
            return self.module(*args, **kwargs)  # (fx's proxies are not tensors: _signature lets them by)
        key = self._signature(args)
        entry = self._entries.get(key) if key is not None else "not replayed"
        if isinstance(entry, _Program):
            return entry(args)
        if (isinstance(entry, str) or (entry is None and len(self._entries) >= MAX_SIGNATURES)
                or torch.autograd.profiler._is_profiler_enabled):
            return self.module(*args)  # (a recording under a profiler would show each op twice)
        return self._record(key, entry or [], args)

    def _signature(self, args) -> Optional[Tuple]:
        """What a recording holds for: the inputs' shapes, strides and dtypes, the grad mode and the
        thread count; None where replay does not apply (a non-tensor or non-CPU input, an input that
        requires grad, global hooks)."""
        g = nn.modules.module
        if g._global_forward_hooks or g._global_forward_pre_hooks:
            return None
        shapes = []
        for a in args:
            if type(a) is not torch.Tensor or a.device.type != "cpu" or a.requires_grad or a.layout != torch.strided:
                return None
            shapes.append((a.shape, a.stride(), a.dtype))
        return (tuple(shapes), torch.is_grad_enabled(), torch.is_inference_mode_enabled(),
                torch.get_num_threads(), self.module.training)

    def _record(self, key: Tuple, fingerprints: List, args):
        if any(has_hooks(m) for m in self.module.modules()):  # (global hooks: _signature said None)
            self._entries[key] = "module hooks are registered (a replay would not call them)"
            return self.module(*args)
        out, program, reason = record(self.module, args)
        if program is None:
            self._entries[key] = f"not recorded: {reason}"
            return out
        fingerprint = program.program.fingerprint()
        fingerprints = fingerprints + [fingerprint]
        if fingerprints[-AGREEING_RECORDINGS:].count(fingerprint) >= AGREEING_RECORDINGS:
            self._entries[key] = program
        elif len(fingerprints) >= MAX_RECORDINGS:
            self._entries[key] = f"the op sequence changed between {len(fingerprints)} calls"
        else:
            self._entries[key] = fingerprints
        return out

    def replays(self) -> List[Tuple[Tuple, str]]:
        """(input signature, what runs for it): "replay (N ops)", "recording" or why Python runs."""
        rows = []
        for key, entry in self._entries.items():
            if isinstance(entry, _Program):
                what = f"replay ({entry.program.steps} ops)"
            elif isinstance(entry, list):
                what = f"recording ({len(entry)} of {AGREEING_RECORDINGS} agreeing calls so far)"
            else:
                what = f"python: {entry}"
            rows.append((tuple(tuple(s) for s, _, _ in key[0]), what))
        return rows

    def reset(self) -> None:
        """Drop every recording; the next calls record afresh (after changing the module)."""
        self._entries.clear()

    def _apply(self, fn, recurse=True):
        self.reset()  # .to(), .half(), .cuda(): the recorded constants are the old tensors
        return super()._apply(fn, recurse)

    def train(self, mode: bool = True):
        self.reset()
        return super().train(mode)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(super().__getattr__("module"), name)

    def state_dict(self, *args, **kwargs):
        return self.module.state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        self.reset()
        return self.module.load_state_dict(state_dict, strict=strict, assign=assign)

    def __prepare_scriptable__(self):
        return self.module  # torch.jit.script(replay) scripts the model itself

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_entries"] = {}  # programs hold C++ objects; a copy records afresh
        del state["forward"]  # bound to this object: made anew
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._install_forward()

    def __deepcopy__(self, memo):
        new = Replay.__new__(Replay)
        memo[id(self)] = new
        new.__setstate__(copy.deepcopy(self.__getstate__(), memo))
        return new
