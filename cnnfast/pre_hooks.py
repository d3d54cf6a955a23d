"""Run a model once with a forward pre-hook on some of its modules (how optimize() learns what
each layer receives on example_input), removing the hooks whatever happens."""

from typing import Callable

import torch
import torch.nn as nn


def run_with_pre_hook(model: nn.Module, args, hook: Callable, where: Callable[[nn.Module], bool] = lambda m: True):
    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if where(m)]
    try:
        with torch.inference_mode():
            return model(*args)
    finally:
        for h in handles:
            h.remove()
