"""Attention sub-layers. Fused: one GroupQueryAttention node (com.microsoft): the packed QKV
MatMul in as its query, the KV cache in `[batch, kv_heads, seq, head_dim]`, then the output
MatMul.

Rotary is inside the node (do_rotary, its cos/sin tables, the graph's position_ids). On its
own, onnxruntime's CPU kernel (1.32) rotates a first prompt by position_ids[0, 0] + slot for
every row, which is wrong for left-padded rows (the contract's positions count attended
slots only); given query_seqlens (every row's whole chunk: masks.py), it rotates each token
by its own position_ids entry in every call (prefill, decode, chunks after a past).
With QK norms the packed projection is split first, normed, and Q, K, V go in separately.
query_seqlens needs onnxruntime 1.32, and the node's tables must be a multiple of 8 pairs
wide; otherwise (plan.py: the layer's `rotary`) Q and K are rotated before the node by two
RotaryEmbedding nodes (com.microsoft) that read position_ids.

Standard ops (the portable form, and the fallback of a layer the fused op cannot express):
the same packed QKV MatMul, rotary as q·cos + rotate_half(q)·sin, the cache as Concat,
grouped scores `[batch, kv_heads, groups, seq, total]` (no copy of K and V per query
head), one additive bias (mask, causal rule, ALiBi, window), Softmax, MatMul."""

from __future__ import annotations

from light_llm.exports.onnx_lowering.builder import MS_DOMAIN, GraphBuilder
from light_llm.exports.onnx_lowering.linear import linear
from light_llm.exports.onnx_lowering.masks import AttentionInputs
from light_llm.exports.onnx_lowering.qk_norm import qk_normed, soft_capped
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
    rotary_inside: bool = False,
) -> str:
    """`rotary`: the cos and sin tables (None without RoPE); `rotary_inside`: rotated by the
    node itself (else by RotaryEmbedding nodes); `cache`: (past key, past value, present
    key, present value) names."""
    scope = f"/{prefix}"
    qkv = linear(g, weights, x, f"{prefix}.q_proj", f"{prefix}.k_proj", f"{prefix}.v_proj",
                 packed_name=f"{prefix}.qkv_proj")
    q, k, v = qkv, "", ""
    rotates_before = rotary is not None and not rotary_inside
    if attention_ir.qk_norm != "none" or rotates_before:
        sizes = g.constant([attention_ir.q_size, attention_ir.kv_size, attention_ir.kv_size])
        q, k, v = g.node("Split", [qkv, sizes], scope=scope, outputs=3, axis=-1)
        q, k = qk_normed(g, weights, prefix, attention_ir, q, k)
    if rotates_before:
        q, k = _rotary_embedding(g, attention_ir, q, k, rotary, position_ids, scope)
        rotary = None
    past_key, past_value, present_key, present_value = cache
    inputs = [q, k, v, past_key, past_value, masks.seqlens_k, masks.total_sequence_length]
    if rotary is None:
        inputs += ["", "", "", masks.bias]
    else:
        inputs += [*rotary, position_ids, masks.bias, "", "", "", "", "", masks.query_seqlens]
    out = g.node(
        "GroupQueryAttention", inputs,
        scope=scope, outputs=[None, present_key, present_value], domain=MS_DOMAIN,
        num_heads=attention_ir.num_heads, kv_num_heads=attention_ir.num_kv_heads,
        scale=attention_ir.score_scale, **_softcap_attribute(attention_ir), **_rotary_attributes(attention_ir, rotary),
    )[0]  # the sliding window is in masks.bias (see masks.py)
    return linear(g, weights, out, f"{prefix}.o_proj")


def standard_attention(
    g: GraphBuilder,
    weights: Weights,
    prefix: str,
    attention_ir,
    x: str,
    masks: AttentionInputs,
    rotation: tuple[str, str] | None,
    cache: tuple[str, str, str, str] | None,
) -> str:
    """`rotation`: cos and sin `[batch, 1, seq, head_dim]`; `cache`: as for fused_attention,
    None without a KV cache (bidirectional)."""
    scope = f"/{prefix}"
    heads, kv_heads, dim = attention_ir.num_heads, attention_ir.num_kv_heads, attention_ir.head_dim
    qkv = linear(g, weights, x, f"{prefix}.q_proj", f"{prefix}.k_proj", f"{prefix}.v_proj",
                 packed_name=f"{prefix}.qkv_proj")
    sizes = g.constant([attention_ir.q_size, attention_ir.kv_size, attention_ir.kv_size])
    q, k, v = g.node("Split", [qkv, sizes], scope=scope, outputs=3, axis=-1)
    q, k = qk_normed(g, weights, prefix, attention_ir, q, k)
    q, k, v = (_heads(g, t, n, dim, scope) for t, n in zip((q, k, v), (heads, kv_heads, kv_heads)))
    if rotation is not None:
        rotary_dim, pairing = attention_ir.positional.rotary_dim(dim), attention_ir.positional.rope_pairing
        q, k = (_rotate(g, t, rotation, dim, rotary_dim, pairing, scope) for t in (q, k))
    if cache is not None:
        past_key, past_value, present_key, present_value = cache
        k = g.node("Concat", [past_key, k], scope=scope, outputs=[present_key], axis=2)[0]
        v = g.node("Concat", [past_value, v], scope=scope, outputs=[present_value], axis=2)[0]
    groups = heads // kv_heads
    q = g.op("Reshape", q, g.constant([0, kv_heads, groups, -1, dim]), scope=scope)  # [B, Hkv, G, S, D]
    k = g.op("Transpose", g.op("Unsqueeze", k, g.constant([2]), scope=scope), scope=scope, perm=[0, 1, 2, 4, 3])
    scores = g.op("Mul", g.op("MatMul", q, k, scope=scope), g.constant(attention_ir.score_scale, "float32"),
                  scope=scope)
    scores = soft_capped(g, scores, attention_ir.logit_softcap, scope)
    weights_ = g.op("Softmax", g.op("Add", scores, masks.grouped_bias, scope=scope), scope=scope, axis=-1)
    out = g.op("MatMul", weights_, g.op("Unsqueeze", v, g.constant([2]), scope=scope), scope=scope)
    out = g.op("Reshape", out, g.constant([0, heads, -1, dim]), scope=scope)  # [B, H, S, D]
    out = g.op("Transpose", out, scope=scope, perm=[0, 2, 1, 3])
    out = g.op("Reshape", out, g.constant([0, 0, heads * dim]), scope=scope)
    return linear(g, weights, out, f"{prefix}.o_proj")


def _softcap_attribute(attention_ir) -> dict:
    """GroupQueryAttention caps the scaled scores before its attention_bias is added."""
    return {} if attention_ir.logit_softcap is None else {"softcap": attention_ir.logit_softcap}


def _rotary_embedding(g: GraphBuilder, attention_ir, q: str, k: str, rotary: tuple[str, str],
                      position_ids: str, scope: str) -> tuple[str, str]:
    """Q and K `[batch, seq, heads·head_dim]` rotated by RotaryEmbedding nodes at position_ids."""
    positional = attention_ir.positional
    return tuple(g.op("RotaryEmbedding", t, position_ids, *rotary, scope=scope, domain=MS_DOMAIN,
                      interleaved=int(positional.rope_pairing == "interleaved"), num_heads=heads,
                      rotary_embedding_dim=positional.rotary_dim(attention_ir.head_dim))
                 for t, heads in ((q, attention_ir.num_heads), (k, attention_ir.num_kv_heads)))


def _rotary_attributes(attention_ir, rotary) -> dict:
    if rotary is None:
        return {}
    return {"do_rotary": 1, "rotary_interleaved": int(attention_ir.positional.rope_pairing == "interleaved")}


def _heads(g: GraphBuilder, x: str, heads: int, dim: int, scope: str) -> str:
    """[B, S, heads·dim] → [B, heads, S, dim]."""
    x = g.op("Reshape", x, g.constant([0, 0, heads, dim]), scope=scope)
    return g.op("Transpose", x, scope=scope, perm=[0, 2, 1, 3])


def _rotate(g: GraphBuilder, x: str, rotation: tuple[str, str], dim: int, rotary_dim: int,
            pairing: str, scope: str) -> str:
    """x·cos + rotate(x)·sin on the first rotary_dim dims (the rest pass through):
    half-split pairs rotate (x1, x2) → (-x2, x1) on the halves, interleaved pairs
    (x_2j, x_2j+1) → (-x_2j+1, x_2j)."""
    passed = None
    if rotary_dim < dim:
        x, passed = g.node("Split", [x, g.constant([rotary_dim, dim - rotary_dim])], scope=scope,
                           outputs=2, axis=-1)
    if pairing == "interleaved":
        pairs = g.op("Reshape", x, g.constant([0, 0, 0, -1, 2]), scope=scope)  # [B, H, S, R/2, 2]
        even, odd = g.node("Split", [pairs, g.constant([1, 1])], scope=scope, outputs=2, axis=-1)
        rotated = g.op("Reshape", g.op("Concat", g.op("Neg", odd, scope=scope), even, scope=scope, axis=-1),
                       g.constant([0, 0, 0, rotary_dim]), scope=scope)
    else:
        first, second = g.node("Split", [x, g.constant([rotary_dim // 2] * 2)], scope=scope, outputs=2, axis=-1)
        rotated = g.op("Concat", g.op("Neg", second, scope=scope), first, scope=scope, axis=-1)
    cos, sin = rotation
    out = g.op("Add", g.op("Mul", x, cos, scope=scope), g.op("Mul", rotated, sin, scope=scope), scope=scope)
    return out if passed is None else g.op("Concat", out, passed, scope=scope, axis=-1)
