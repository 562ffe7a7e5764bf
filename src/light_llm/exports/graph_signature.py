"""The module an export traces: the contract's inputs and outputs for this model only.

- causal, positions used (rope, learned, sinusoidal): CacheSignature as is;
- causal, no positions (alibi, none): no position_ids input;
- bidirectional: input_ids, attention_mask (+ position_ids) → logits, without a KV
  cache, since every token attends to later ones and cached keys would go stale.
Inputs and outputs follow `Geometry.input_names()` / `output_names()` in order.
"""

from __future__ import annotations

import torch
from torch import nn

from light_llm.exports.signature import CacheSignature
from light_llm.runtime.geometry import Geometry


class CacheWithoutPositions(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.signature = CacheSignature(model)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, *past: torch.Tensor):
        # The graph never reads positions: any tensor of the right shape serves.
        return self.signature(input_ids, attention_mask, torch.zeros_like(input_ids), *past)


class FullSequence(nn.Module):
    """Bidirectional models: the whole sequence at once, padding masked."""

    def __init__(self, model: nn.Module, uses_position_ids: bool):
        super().__init__()
        self.model = model
        self.uses_position_ids = uses_position_ids

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, *position_ids: torch.Tensor):
        positions = position_ids[0] if position_ids else torch.zeros_like(input_ids)
        logits, _ = self.model._run(input_ids, attention_mask, positions, None)
        return (logits.float(),)


class TokensOnly(nn.Module):
    """Model families with only `forward(tokens) → logits` (no KV cache, no padding mask):
    the whole sequence at once; the attention mask input is kept for the contract but not
    read, so prompts must not be padded."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        return (self.model(input_ids).float(),)


def signature_module(model: nn.Module, geometry: Geometry) -> nn.Module:
    if not hasattr(model, "forward_with_cache"):
        return TokensOnly(model)
    if not geometry.cached:
        return FullSequence(model, geometry.uses_position_ids)
    return CacheSignature(model) if geometry.uses_position_ids else CacheWithoutPositions(model)


def run_module(module: nn.Module, geometry: Geometry):
    """A `Run` (named numpy inputs → named numpy outputs) on an eager signature module."""
    import numpy as np

    names = geometry.input_names()
    outputs = geometry.output_names()

    def run(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with torch.no_grad():
            results = module(*(torch.from_numpy(np.ascontiguousarray(feeds[n])) for n in names))
        return {name: tensor.numpy() for name, tensor in zip(outputs, results)}

    return run
