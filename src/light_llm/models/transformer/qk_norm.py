"""`attention.qk_norm`: a norm (model.norm's type and eps) on the projected queries and
keys, before RoPE. per_head: each head's head_dim numbers are normalised on their own
(weight of size head_dim, shared by the heads; Qwen3, Gemma 3); whole: the whole
projection is (weight of size num_heads·head_dim for Q, num_kv_heads·head_dim for K;
OLMo 2). Without qk_norm both are nn.Identity."""

from __future__ import annotations

from torch import nn

from light_llm.models.transformer.ir import AttentionIR
from light_llm.models.transformer.norm import build_norm


def build_qk_norms(ir: AttentionIR) -> tuple[nn.Module, nn.Module]:
    norms = ir.qk_norms()
    if norms is None:
        return nn.Identity(), nn.Identity()
    return build_norm(norms[0]), build_norm(norms[1])


def norm_shapes(ir: AttentionIR) -> tuple[list[int], list[int]]:
    """The trailing shapes of Q and K the norms see: [heads, head_dim] per head, else flat."""
    if ir.qk_norm == "per_head":
        return [ir.num_heads, ir.head_dim], [ir.num_kv_heads, ir.head_dim]
    return [ir.q_size], [ir.kv_size]
