"""The flat prefill + decode signature every export reproduces (DESIGN.md's contract).

inputs:  input_ids [B, S] int64, attention_mask [B, P + S] int64, position_ids [B, S]
         int64, then past_key_values.{i}.key / .value [B, Hkv, P, D] float32 per layer
outputs: logits [B, S, vocab] float32, then present.{i}.key / .value [B, Hkv, P + S, D]
"""

from __future__ import annotations

import torch
from torch import nn


def input_names(num_layers: int) -> list[str]:
    names = ["input_ids", "attention_mask", "position_ids"]
    for i in range(num_layers):
        names += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
    return names


def output_names(num_layers: int) -> list[str]:
    names = ["logits"]
    for i in range(num_layers):
        names += [f"present.{i}.key", f"present.{i}.value"]
    return names


class CacheSignature(nn.Module):
    """Wraps a Transformer so its cached forward takes and returns flat tensors."""

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
        logits, presents = self.model.forward_with_cache(
            input_ids, attention_mask, position_ids, pairs
        )
        flat = [logits.float()]
        for key, value in presents:
            flat += [key.float(), value.float()]
        return tuple(flat)
