"""Transformer blocks. The builder chooses the norms (an nn.Identity where a placement
has none) and sequential vs parallel wiring, so the forwards carry no config branches:

    sequential: x = post(x + drop(out(attn(in(x))))), then the same around the FFN
    parallel:   h = in(x); x = post(x + drop(out_a(attn(h))) + drop(out_f(ffn(h))))
    parallel with separate norms (GPT-NeoX):
                x = x + drop(out_a(attn(in_a(x)))) + drop(out_f(ffn(in_f(x))))

`drop` is the residual dropout, after model.residual_scale's factor where it is not 1
(Granite). pre: `in` is a norm; post: `post` is a norm; sandwich: `in` and `out` are norms;
output: `out` is a norm (OLMo 2).
"""

from __future__ import annotations

import torch
from torch import nn

from light_llm.models.transformer.ir import BlockIR
from light_llm.models.transformer.attention import Attention
from light_llm.models.transformer.constant_factors import build_scale
from light_llm.models.transformer.ffn import build_ffn
from light_llm.models.transformer.norm import build_norm

KV = tuple[torch.Tensor, torch.Tensor]


def _norm_if(present: bool, ir: BlockIR) -> nn.Module:
    return build_norm(ir.norm) if present else nn.Identity()


def _into_residual(ir: BlockIR) -> nn.Module:
    """What each sub-layer's output passes through before the residual add."""
    dropout = nn.Dropout(ir.residual_dropout)
    return dropout if ir.residual_scale == 1.0 else nn.Sequential(build_scale(ir.residual_scale), dropout)


def _norm_roles(ir: BlockIR) -> tuple[bool, bool, bool]:
    """Whether the block has input norms, sub-layer output norms, a norm after the add."""
    return (ir.placement in ("pre", "sandwich"), ir.placement in ("sandwich", "output"),
            ir.placement == "post")


class SequentialBlock(nn.Module):
    def __init__(self, ir: BlockIR):
        super().__init__()
        inputs, outputs, post = _norm_roles(ir)
        self.attention_norm_in = _norm_if(inputs, ir)
        self.attention = Attention(ir.attention)
        self.attention_norm_out = _norm_if(outputs, ir)
        self.attention_norm_post = _norm_if(post, ir)
        self.ffn_norm_in = _norm_if(inputs, ir)
        self.ffn = build_ffn(ir.ffn)
        self.ffn_norm_out = _norm_if(outputs, ir)
        self.ffn_norm_post = _norm_if(post, ir)
        self.dropout = _into_residual(ir)

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
        inputs, outputs, post = _norm_roles(ir)
        self.norm_in = _norm_if(inputs, ir)
        self.attention = Attention(ir.attention)
        self.attention_norm_out = _norm_if(outputs, ir)
        self.ffn = build_ffn(ir.ffn)
        self.ffn_norm_out = _norm_if(outputs, ir)
        self.norm_post = _norm_if(post, ir)
        self.dropout = _into_residual(ir)

    def forward(
        self, x: torch.Tensor, position_ids: torch.Tensor, bias: torch.Tensor | None, past: KV | None
    ) -> tuple[torch.Tensor, KV]:
        h = self.norm_in(x)
        attended, present = self.attention(h, position_ids, bias, past)
        fed = self.ffn(h)
        x = x + self.dropout(self.attention_norm_out(attended)) + self.dropout(self.ffn_norm_out(fed))
        return self.norm_post(x), present


class SeparateNormsParallelBlock(nn.Module):
    """GPT-NeoX-style: attention and FFN in parallel, each with its own input norm."""

    def __init__(self, ir: BlockIR):
        super().__init__()
        _, outputs, _ = _norm_roles(ir)
        self.attention_norm_in = build_norm(ir.norm)
        self.attention = Attention(ir.attention)
        self.attention_norm_out = _norm_if(outputs, ir)
        self.ffn_norm_in = build_norm(ir.norm)
        self.ffn = build_ffn(ir.ffn)
        self.ffn_norm_out = _norm_if(outputs, ir)
        self.dropout = _into_residual(ir)

    def forward(
        self, x: torch.Tensor, position_ids: torch.Tensor, bias: torch.Tensor | None, past: KV | None
    ) -> tuple[torch.Tensor, KV]:
        attended, present = self.attention(self.attention_norm_in(x), position_ids, bias, past)
        fed = self.ffn(self.ffn_norm_in(x))
        x = x + self.dropout(self.attention_norm_out(attended)) + self.dropout(self.ffn_norm_out(fed))
        return x, present


def build_block(ir: BlockIR) -> nn.Module:
    if not ir.parallel:
        return SequentialBlock(ir)
    return SeparateNormsParallelBlock(ir) if ir.parallel_norms == "separate" else ParallelBlock(ir)
