"""Transformer blocks. The builder chooses the norms (an nn.Identity where a placement
has none) and sequential vs parallel wiring, so the forwards carry no config branches:

    sequential: x = post(x + drop(out(attn(in(x))))), then the same around the FFN
    parallel:   h = in(x); x = post(x + drop(out_a(attn(h))) + drop(out_f(ffn(h))))

pre: `in` is a norm; post: `post` is a norm; sandwich: `in` and `out` are norms.
"""

from __future__ import annotations

import torch
from torch import nn

from light_llm.models.transformer.ir import BlockIR
from light_llm.models.transformer.attention import Attention
from light_llm.models.transformer.ffn import build_ffn
from light_llm.models.transformer.norm import build_norm

KV = tuple[torch.Tensor, torch.Tensor]


def _norm_if(present: bool, ir: BlockIR) -> nn.Module:
    return build_norm(ir.norm) if present else nn.Identity()


class SequentialBlock(nn.Module):
    def __init__(self, ir: BlockIR):
        super().__init__()
        pre, sandwich, post = (ir.placement == p for p in ("pre", "sandwich", "post"))
        self.attention_norm_in = _norm_if(pre or sandwich, ir)
        self.attention = Attention(ir.attention)
        self.attention_norm_out = _norm_if(sandwich, ir)
        self.attention_norm_post = _norm_if(post, ir)
        self.ffn_norm_in = _norm_if(pre or sandwich, ir)
        self.ffn = build_ffn(ir.ffn)
        self.ffn_norm_out = _norm_if(sandwich, ir)
        self.ffn_norm_post = _norm_if(post, ir)
        self.dropout = nn.Dropout(ir.residual_dropout)

    def forward(
        self, x: torch.Tensor, position_ids: torch.Tensor, bias: torch.Tensor | None, past: KV | None
    ) -> tuple[torch.Tensor, KV]:
        attended, present = self.attention(self.attention_norm_in(x), position_ids, bias, past)
        x = self.attention_norm_post(x + self.dropout(self.attention_norm_out(attended)))
        fed = self.ffn(self.ffn_norm_in(x))
        x = self.ffn_norm_post(x + self.dropout(self.ffn_norm_out(fed)))
        return x, present


class ParallelBlock(nn.Module):
    """PaLM-style: attention and FFN read the same (normalised) input."""

    def __init__(self, ir: BlockIR):
        super().__init__()
        pre, sandwich, post = (ir.placement == p for p in ("pre", "sandwich", "post"))
        self.norm_in = _norm_if(pre or sandwich, ir)
        self.attention = Attention(ir.attention)
        self.attention_norm_out = _norm_if(sandwich, ir)
        self.ffn = build_ffn(ir.ffn)
        self.ffn_norm_out = _norm_if(sandwich, ir)
        self.norm_post = _norm_if(post, ir)
        self.dropout = nn.Dropout(ir.residual_dropout)

    def forward(
        self, x: torch.Tensor, position_ids: torch.Tensor, bias: torch.Tensor | None, past: KV | None
    ) -> tuple[torch.Tensor, KV]:
        h = self.norm_in(x)
        attended, present = self.attention(h, position_ids, bias, past)
        fed = self.ffn(h)
        x = x + self.dropout(self.attention_norm_out(attended)) + self.dropout(self.ffn_norm_out(fed))
        return self.norm_post(x), present


def build_block(ir: BlockIR) -> nn.Module:
    return ParallelBlock(ir) if ir.parallel else SequentialBlock(ir)
