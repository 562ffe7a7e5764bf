"""Attention masks as additive biases.

A query in cache slot q may attend to key slot k when the mask rule allows it and the
key is not padding. Slots are indices into the concatenation past + current, so the
same rule serves training, prefill with left padding, and KV-cache decoding. Masked
entries get the dtype's finite minimum, never -inf, so fully padded rows stay finite.
"""

from __future__ import annotations

import torch
from torch import nn

from light_llm.models.transformer.errors import IRError
from light_llm.models.transformer.ir import AttentionIR
from light_llm.models.transformer.options import POSITIONAL_ENCODINGS
from light_llm.models.transformer.positional import build_score_bias


class CausalRule(nn.Module):
    def forward(self, query_slots: torch.Tensor, key_slots: torch.Tensor) -> torch.Tensor:
        return key_slots <= query_slots


class SlidingWindowRule(nn.Module):
    """Causal, and at most `window` keys back, the query itself included."""

    def __init__(self, window: int):
        super().__init__()
        self.window = window

    def forward(self, query_slots: torch.Tensor, key_slots: torch.Tensor) -> torch.Tensor:
        return (key_slots <= query_slots) & (query_slots - key_slots < self.window)


class BidirectionalRule(nn.Module):
    def forward(self, query_slots: torch.Tensor, key_slots: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(query_slots - key_slots, dtype=torch.bool)


def build_mask_rule(ir: AttentionIR) -> nn.Module:
    if ir.mask_type == "sliding_window":
        if ir.window_size is None:
            raise IRError("attention.mask_type is 'sliding_window' but window_size is None")
        return SlidingWindowRule(ir.window_size)
    return CausalRule() if ir.mask_type == "causal" else BidirectionalRule()


class AttentionBias(nn.Module):
    """Builds the additive bias `[batch | 1, heads | 1, seq, total_seq]` once per forward.

    Returns None where the kernel applies the mask itself (plain causal or bidirectional
    attention without padding, or flash-attn), which keeps the fast SDPA paths.
    """

    def __init__(self, ir: AttentionIR):
        super().__init__()
        self.rule = build_mask_rule(ir)
        biases_scores = POSITIONAL_ENCODINGS[ir.positional.encoding].score_bias is not None
        self.score_bias = build_score_bias(ir)
        self.kernel_masks_itself = ir.kernel == "flash_attn" or (
            not biases_scores and ir.mask_type != "sliding_window"
        )

    def forward(
        self,
        query_len: int,
        attention_mask: torch.Tensor | None,
        device: torch.device,
        dtype: torch.dtype,
    ) -> torch.Tensor | None:
        if attention_mask is None and self.kernel_masks_itself:
            return None
        total_len = query_len if attention_mask is None else attention_mask.shape[1]
        key_slots = torch.arange(total_len, device=device)
        query_slots = torch.arange(total_len - query_len, total_len, device=device)
        allowed = self.rule(query_slots[:, None], key_slots[None, :])[None, None]  # [1,1,S,T]
        if attention_mask is not None:
            allowed = allowed & attention_mask[:, None, None, :].bool()  # [B,1,S,T]
        distance = query_slots[:, None] - key_slots[None, :]
        score_bias = self.score_bias(distance).to(dtype)  # [1, H|1, S, T]
        return torch.where(allowed, score_bias, torch.finfo(dtype).min)
