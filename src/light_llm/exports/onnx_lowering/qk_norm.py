"""`attention.qk_norm` in ONNX: the query and key norms of models/transformer/qk_norm.py
on the projections `[batch, seq, heads·head_dim]`, before rotary. per_head: reshaped to
`[batch, seq, heads, head_dim]`, normalised over the last axis (one fused
SimplifiedLayerNormalization / LayerNormalization node, or standard ops in the portable
form), reshaped back; whole: normalised as it is. Softcap: cap·tanh(x/cap)."""

from __future__ import annotations

from light_llm.exports.onnx_lowering.builder import GraphBuilder
from light_llm.exports.onnx_lowering.norm import norm
from light_llm.exports.onnx_lowering.weights import Weights


def qk_normed(g: GraphBuilder, weights: Weights, prefix: str, attention_ir, q: str, k: str) -> tuple[str, str]:
    """Q and K `[batch, seq, heads·head_dim]` through the attention's QK norms (as they are
    without qk_norm)."""
    norms = attention_ir.qk_norms()
    if norms is None:
        return q, k
    dim = attention_ir.head_dim
    out = []
    for x, name, norm_ir, heads in ((q, "q_norm", norms[0], attention_ir.num_heads),
                                    (k, "k_norm", norms[1], attention_ir.num_kv_heads)):
        scope = f"/{prefix}.{name}"
        if attention_ir.qk_norm == "per_head":
            x = g.op("Reshape", x, g.constant([0, 0, heads, dim]), scope=scope)
        x = norm(g, weights, f"{prefix}.{name}", norm_ir, x)
        if attention_ir.qk_norm == "per_head":
            x = g.op("Reshape", x, g.constant([0, 0, heads * dim]), scope=scope)
        out.append(x)
    return out[0], out[1]


def soft_capped(g: GraphBuilder, x: str, cap: float | None, scope: str) -> str:
    """cap·tanh(x/cap), or x without a cap."""
    if cap is None:
        return x
    cap_constant = g.constant(cap, "float32")
    return g.op("Mul", g.op("Tanh", g.op("Div", x, cap_constant, scope=scope), scope=scope), cap_constant,
                scope=scope)
