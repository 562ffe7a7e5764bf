"""One attention sub-layer as one GroupQueryAttention node (com.microsoft): a packed QKV
MatMul in, the KV cache in `[batch, kv_heads, seq, head_dim]`, then the output MatMul.

Rotary: onnxruntime's CPU GroupQueryAttention (1.32) rotates by the slot index it derives
from seqlens_k and ignores its position_ids input, which is wrong for left-padded rows
(the contract's positions count attended slots only). So with RoPE, Q and K are rotated
before the node by two RotaryEmbedding nodes (com.microsoft, half-split pairs:
interleaved 0) that read position_ids; without RoPE the packed QKV goes in as it is."""

from __future__ import annotations

from light_llm.exports.onnx_lowering.builder import MS_DOMAIN, GraphBuilder
from light_llm.exports.onnx_lowering.linear import linear
from light_llm.exports.onnx_lowering.masks import AttentionInputs
from light_llm.exports.onnx_lowering.weights import Weights


def fused_attention(
    g: GraphBuilder,
    weights: Weights,
    prefix: str,
    attention_ir,
    x: str,
    masks: AttentionInputs,
    rotary: tuple[str, str] | None,
    position_ids: str | None,
    cache: tuple[str, str, str, str],
) -> str:
    """`cache`: (past key, past value, present key, present value) names."""
    scope = f"/{prefix}"
    qkv = linear(g, weights, x, f"{prefix}.q_proj", f"{prefix}.k_proj", f"{prefix}.v_proj",
                 packed_name=f"{prefix}.qkv_proj")
    q, k, v = qkv, "", ""
    if rotary is not None:
        sizes = g.constant([attention_ir.q_size, attention_ir.kv_size, attention_ir.kv_size])
        q, k, v = g.node("Split", [qkv, sizes], scope=scope, outputs=3, axis=-1)
        q, k = (g.op("RotaryEmbedding", t, position_ids, *rotary, scope=scope, domain=MS_DOMAIN,
                     interleaved=0, num_heads=heads)
                for t, heads in ((q, attention_ir.num_heads), (k, attention_ir.num_kv_heads)))
    past_key, past_value, present_key, present_value = cache
    out = g.node(
        "GroupQueryAttention",
        [q, k, v, past_key, past_value, masks.seqlens_k, masks.total_sequence_length,
         "", "", "", masks.bias],
        scope=scope, outputs=[None, present_key, present_value], domain=MS_DOMAIN,
        num_heads=attention_ir.num_heads, kv_num_heads=attention_ir.num_kv_heads,
    )[0]  # the sliding window is in masks.bias (see masks.py)
    return linear(g, weights, out, f"{prefix}.o_proj")
