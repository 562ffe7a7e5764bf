"""Attention sinks (`attention.sinks`, gpt-oss): each query head h has a learned logit
z_h that joins the softmax over the keys as one more entry whose value is never read:

    weights[s, t] = exp(scores[s, t]) / (exp(z_h) + Σ_t' exp(scores[s, t']))

so a head may put weight on nothing (the weights of a row sum to below 1). `SinkKernel`
computes the scores explicitly (soft-capped where attention.logit_softcap is set), masks
them, and takes the softmax over the keys and the sink column together. Its parameter is
`sinks` `[num_heads]`, zeros at init."""

from __future__ import annotations

import torch
from torch import nn

from light_llm.models.transformer.attention import expand_kv_heads, masked
from light_llm.models.transformer.ir import AttentionIR
from light_llm.models.transformer.softcap import build_logit_cap


def sink_softmax(scores: torch.Tensor, sinks: torch.Tensor) -> torch.Tensor:
    """The softmax of [B, H, S, T] scores with the logit sinks[h] in each row's
    denominator: the sink as a column T + 1, dropped after the softmax."""
    column = sinks.float()[None, :, None, None].expand(*scores.shape[:-1], 1)
    return torch.cat((scores, column), dim=-1).softmax(dim=-1)[..., :-1]


class SinkKernel(nn.Module):
    def __init__(self, ir: AttentionIR):
        super().__init__()
        self.groups = ir.num_heads // ir.num_kv_heads
        self.scale = ir.score_scale
        self.cap = build_logit_cap(ir.logit_softcap)
        self.dropout = nn.Dropout(ir.dropout)
        self.is_causal = ir.mask_type != "bidirectional"
        self.sinks = nn.Parameter(torch.zeros(ir.num_heads))

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        k, v = expand_kv_heads(k, self.groups), expand_kv_heads(v, self.groups)
        scores = self.cap((q @ k.transpose(-2, -1)).float() * self.scale)  # [B, H, S, T]
        weights = self.dropout(sink_softmax(masked(scores, bias, self.is_causal), self.sinks))
        return (weights @ v.float()).to(v.dtype)
