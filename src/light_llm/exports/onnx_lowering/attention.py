"""Attention sub-layers. Fused: one GroupQueryAttention node (com.microsoft): the packed QKV
MatMul in as its query, the KV cache in `[batch, kv_heads, seq, head_dim]`, then the output
MatMul.

These are the attention kernels' ONNX lowerings (options.py: fused for the layers plan.py
fuses, portable for the others); the rotation is the positional encoding's (rotary.py).

Rotary is inside the node (do_rotary, its cos/sin tables). Without position_ids the node
rotates each token by its slot (seqlens_k is the whole width for every row, masks.py): the
same scores as at the contract's positions, since left padding shifts a row's slots
uniformly (runtime/slot_rotation.py). Given position_ids, onnxruntime's CPU kernel rotates a
first prompt by position_ids[0, 0] + slot for every row, which is wrong for left-padded rows;
given query_seqlens too (onnxruntime 1.32; every row's whole chunk: masks.py), it rotates
each token by its own position_ids entry in every call. With QK norms the packed projection
is split first, normed, and Q, K, V go in separately. The node's tables must be a multiple
of 8 pairs wide; otherwise (plan.py: the layer's `rotary`) Q and K are rotated before the
node by two RotaryEmbedding nodes (com.microsoft) that read position_ids.

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

Cache = tuple[str, str, str, str]  # (past key, past value, present key, present value) names


def fused_attention(g: GraphBuilder, weights: Weights, prefix: str, attention_ir, x: str,
                    masks: AttentionInputs, rotation, cache: Cache) -> str:
    """`rotation`: the encoding's fused rotation (rotary.FusedRotary), None without one."""
    scope = f"/{prefix}"
    qkv = _qkv(g, weights, prefix, x)
    q, k, v = qkv, "", ""
    rotates_before = rotation is not None and not rotation.inside
    if attention_ir.qk_norms() is not None or rotates_before:
        q, k, v = _split(g, attention_ir, qkv, scope)
        q, k = qk_normed(g, weights, prefix, attention_ir, q, k)
    if rotates_before:
        q, k = rotation.rotate(q, k, scope)
    inside = rotation is not None and rotation.inside
    past_key, past_value, present_key, present_value = cache
    inputs = [q, k, v, past_key, past_value, masks.seqlens_k, masks.total_sequence_length,
              *(rotation.node_inputs() if inside else ["", "", ""]), masks.bias,
              head_sink(g, weights, prefix, attention_ir)]
    if inside:
        inputs += ["", "", "", "", masks.query_seqlens]
    while not inputs[-1]:  # optional inputs left out at the end are not written
        inputs.pop()
    out = g.node(
        "GroupQueryAttention", inputs,
        scope=scope, outputs=[None, present_key, present_value], domain=MS_DOMAIN,
        num_heads=attention_ir.num_heads, kv_num_heads=attention_ir.num_kv_heads,
        scale=attention_ir.score_scale, **_softcap_attribute(attention_ir),
        **(rotation.node_attributes() if inside else {}),
    )[0]  # the sliding window is in masks.bias (see masks.py)
    return linear(g, weights, out, f"{prefix}.o_proj")


def standard_attention(g: GraphBuilder, weights: Weights, prefix: str, attention_ir, x: str,
                       masks: AttentionInputs, rotation, cache: Cache | None) -> str:
    """`rotation`: the encoding's standard-ops rotation (rotary.StandardRotary), None without
    one; `cache`: None without a KV cache (bidirectional)."""
    scope = f"/{prefix}"
    heads, kv_heads, dim = attention_ir.num_heads, attention_ir.num_kv_heads, attention_ir.head_dim
    q, k, v = _split(g, attention_ir, _qkv(g, weights, prefix, x), scope)
    q, k = qk_normed(g, weights, prefix, attention_ir, q, k)
    q, k, v = (_heads(g, t, n, dim, scope) for t, n in zip((q, k, v), (heads, kv_heads, kv_heads)))
    if rotation is not None:
        q, k = rotation.rotate(q, k, scope)
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
    weights_ = grouped_softmax(g, weights, prefix, attention_ir, g.op("Add", scores, masks.grouped_bias, scope=scope))
    out = g.op("MatMul", weights_, g.op("Unsqueeze", v, g.constant([2]), scope=scope), scope=scope)
    out = g.op("Reshape", out, g.constant([0, heads, -1, dim]), scope=scope)  # [B, H, S, D]
    out = g.op("Transpose", out, scope=scope, perm=[0, 2, 1, 3])
    out = g.op("Reshape", out, g.constant([0, 0, heads * dim]), scope=scope)
    return linear(g, weights, out, f"{prefix}.o_proj")


def head_sink(g: GraphBuilder, weights: Weights, prefix: str, attention_ir) -> str:
    """GroupQueryAttention's head_sink input: the sink logits `[num_heads]` ("" without sinks)."""
    name = f"{prefix}.kernel.sinks"
    return g.initializer(name, weights.tensor(name)) if attention_ir.sinks else ""


def grouped_softmax(g: GraphBuilder, weights: Weights, prefix: str, attention_ir, scores: str) -> str:
    """Softmax over the keys of the grouped scores `[batch, kv_heads, groups, seq, total]`;
    with sinks, each head's logit z joins the denominator: with m = max(max_t scores, z),
    exp(scores - m) / (Σ_t exp(scores - m) + exp(z - m))."""
    scope = f"/{prefix}"
    if not attention_ir.sinks:
        return g.op("Softmax", scores, scope=scope, axis=-1)
    heads, kv_heads = attention_ir.num_heads, attention_ir.num_kv_heads
    sinks = weights.tensor(f"{prefix}.kernel.sinks").reshape(1, kv_heads, heads // kv_heads, 1, 1)
    sink = g.initializer(f"{prefix}.kernel.sinks_grouped", sinks)
    last = g.constant([-1])
    top = g.op("Max", g.op("ReduceMax", scores, last, scope=scope, keepdims=1), sink, scope=scope)
    exps = g.op("Exp", g.op("Sub", scores, top, scope=scope), scope=scope)
    total = g.op("Add", g.op("ReduceSum", exps, last, scope=scope, keepdims=1),
                 g.op("Exp", g.op("Sub", sink, top, scope=scope), scope=scope), scope=scope)
    return g.op("Div", exps, total, scope=scope)


def _qkv(g: GraphBuilder, weights: Weights, prefix: str, x: str) -> str:
    """Q, K and V in one packed MatMul."""
    return linear(g, weights, x, f"{prefix}.q_proj", f"{prefix}.k_proj", f"{prefix}.v_proj",
                  packed_name=f"{prefix}.qkv_proj")


def _split(g: GraphBuilder, attention_ir, qkv: str, scope: str) -> list[str]:
    sizes = g.constant([attention_ir.q_size, attention_ir.kv_size, attention_ir.kv_size])
    return g.node("Split", [qkv, sizes], scope=scope, outputs=3, axis=-1)


def _softcap_attribute(attention_ir) -> dict:
    """GroupQueryAttention caps the scaled scores before its attention_bias is added."""
    return {} if attention_ir.logit_softcap is None else dict(softcap=attention_ir.logit_softcap)


def _heads(g: GraphBuilder, x: str, heads: int, dim: int, scope: str) -> str:
    """[B, S, heads·dim] → [B, heads, S, dim]."""
    x = g.op("Reshape", x, g.constant([0, 0, heads, dim]), scope=scope)
    return g.op("Transpose", x, scope=scope, perm=[0, 2, 1, 3])
