"""The eager PyTorch backend of the contract: a model wrapped so that it takes and
returns the contract's flat tensors (DESIGN.md), for this model's geometry only.

- causal, positions used (rope, learned, sinusoidal): CacheSignature;
- causal, no positions (alibi, none): CacheWithoutPositions, no position_ids input;
- bidirectional: FullSequence, input_ids, attention_mask (+ position_ids) → logits,
  without a KV cache, since every token attends to later ones and cached keys would go
  stale.
Inputs and outputs follow `Geometry.input_names()` / `output_names()` in order. Every
torch export traces this module, and `lightllm generate` runs it on model folders.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from light_llm.runtime.generator import Run
from light_llm.runtime.geometry import Geometry


class CacheSignature(nn.Module):
    """input_ids [B, S], attention_mask [B, P + S], position_ids [B, S], then
    past_key_values.{i}.key / .value [B, Hkv, P, D] → logits, present.{i}.key / .value."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor,
        *past: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        pairs = [(past[i], past[i + 1]) for i in range(0, len(past), 2)]
        logits, presents = self.model.forward_with_cache(input_ids, attention_mask, position_ids, pairs)
        flat = [logits.float()]
        for key, value in presents:
            flat += [key.float(), value.float()]
        return tuple(flat)


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
        return (self.model.forward_padded(input_ids, attention_mask, positions).float(),)


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


def run_module(module: Callable[..., tuple[torch.Tensor, ...]], geometry: Geometry) -> Run:
    """A `Run` (named numpy inputs → named numpy outputs) on a module taking the
    contract's positional tensors (a signature module, or a loaded export)."""
    names = geometry.input_names()
    outputs = geometry.output_names()

    def run(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with torch.no_grad():
            results = module(*(torch.from_numpy(np.ascontiguousarray(feeds[n])) for n in names))
        return {name: tensor.numpy() for name, tensor in zip(outputs, results)}

    return run
