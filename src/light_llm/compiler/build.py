"""IR → nn.Module, through the model registry."""

from __future__ import annotations

import torch

from light_llm.models.registry import family


def build(ir, *, seed: int | None = None) -> torch.nn.Module:
    """The module for `ir`, its weights initialised from `seed` when given."""
    module_class = family(ir.family).module_class()
    if seed is None:
        return module_class(ir)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return module_class(ir)
