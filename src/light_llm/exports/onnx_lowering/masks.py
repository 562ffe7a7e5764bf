"""What every attention node reads, computed once per graph from attention_mask.

GroupQueryAttention infers each row's past length from seqlens_k and treats the slots
before it as valid, which is right padding. light_llm's contract pads on the left, and
its cache is plain `present = concat(past, new)`. So every row is given the full length
(seqlens_k = total_sequence_length - 1: new keys go after the whole past, as in the
contract), and the padded slots are masked by an additive attention_bias built from
attention_mask (the dtype's finite minimum, never -inf). A node that rotates by slot counts
from there too (runtime/slot_rotation.py); one that rotates at position_ids reads each row's
own positions only when it is also given query_seqlens (sequence_length for every row: the
whole chunk is valid, nothing is right-padded).

A positional encoding that biases the scores (ALiBi) adds its entry's `onnx_score_bias`
`[1, heads, S, T]` to the allowed slots.

A sliding window is applied by the same bias (query slot - key slot < window_size), not by
GroupQueryAttention's local_window_size: onnxruntime 1.32's CPU kernel gives wrong scores
when local_window_size and attention_bias are combined (found by the parity gate).

Standard-ops attention (attention.standard_attention) reads the same bias with the
causal rule in it too (key slot <= query slot), and no seqlens_k.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from light_llm.exports.onnx_lowering import options
from light_llm.exports.onnx_lowering.builder import BOOL, FLOAT, INT32, GraphBuilder

SCOPE = "/attention_inputs"


@dataclass(frozen=True)
class AttentionInputs:
    bias: str  # float [batch, 1 | num_heads, sequence_length, total_sequence_length]
    grouped_bias: str = ""  # standard ops: [batch, 1 | kv_heads, 1 | groups, sequence, total]
    seqlens_k: str = ""  # int32 [batch]: total_sequence_length - 1 for every row (fused only)
    total_sequence_length: str = ""  # int32 scalar (fused only)
    query_seqlens: str = ""  # int32 [batch]: sequence_length for every row (fused, with rotary)


def attention_inputs(g: GraphBuilder, input_ids: str, attention_mask: str, attention_ir, *,
                     fused: bool, rotates: bool = False) -> AttentionInputs:
    """`fused`: for GroupQueryAttention (causal itself); else the bias holds the causal rule.
    `rotates`: GroupQueryAttention applies rotary (it then reads query_seqlens)."""
    mask_shape = g.op("Shape", attention_mask, scope=SCOPE)  # [B, T]
    total = g.op("Gather", mask_shape, g.constant(1), scope=SCOPE, axis=0)  # T (scalar)
    sequence = g.op("Gather", g.op("Shape", input_ids, scope=SCOPE), g.constant(1), scope=SCOPE, axis=0)
    keep = g.op("Unsqueeze", g.op("Cast", attention_mask, scope=SCOPE, to=BOOL),
                g.constant([1, 2]), scope=SCOPE)  # [B, 1, 1, T]
    minimum = g.constant(np.finfo(np.float32).min, np.float32)
    causal_in_bias = not fused and attention_ir.mask_type != "bidirectional"
    score_bias = options.score_bias(attention_ir.positional.encoding, g.portable)
    distance = None
    if score_bias is not None or attention_ir.window_size or causal_in_bias:
        distance = _slot_distance(g, sequence, total)  # [S, T]
    if causal_in_bias:
        not_future = g.op("GreaterOrEqual", distance, g.constant(0), scope=SCOPE)
        keep = g.op("And", keep, not_future, scope=SCOPE)  # [B, 1, S, T]
    if attention_ir.window_size:
        in_window = g.op("Less", distance, g.constant(attention_ir.window_size), scope=SCOPE)
        keep = g.op("And", keep, in_window, scope=SCOPE)  # [B, 1, S, T]
    if score_bias is not None:
        allowed_bias = score_bias(g, distance, attention_ir)  # [1, H, S, T]
    else:
        rows = g.op("Concat", g.constant([1, 1]), g.op("Unsqueeze", sequence, g.constant([0]), scope=SCOPE),
                    g.constant([1]), scope=SCOPE, axis=0)
        allowed_bias = g.op("Expand", g.constant(0.0, np.float32), rows, scope=SCOPE)  # [1, 1, S, 1]
    bias = g.op("Where", keep, allowed_bias, minimum, scope=SCOPE)
    if not fused:
        return AttentionInputs(bias, _grouped(g, bias, attention_ir))
    batch = g.op("Slice", mask_shape, g.constant([0]), g.constant([1]), scope=SCOPE)  # [1]
    last_slot = g.op("Sub", total, g.constant(1), scope=SCOPE)
    seqlens_k = g.op("Cast", g.op("Expand", last_slot, batch, scope=SCOPE), scope=SCOPE, to=INT32)
    total_int32 = g.op("Cast", total, scope=SCOPE, to=INT32)
    query_seqlens = g.op("Cast", g.op("Expand", sequence, batch, scope=SCOPE), scope=SCOPE, to=INT32) if rotates else ""
    return AttentionInputs(bias, seqlens_k=seqlens_k, total_sequence_length=total_int32, query_seqlens=query_seqlens)


def _slot_distance(g: GraphBuilder, sequence: str, total: str) -> str:
    """query slot - key slot `[S, T]` (int64; slots of past + current)."""
    first_query = g.op("Sub", total, sequence, scope=SCOPE)
    query_slots = g.op("Range", first_query, total, g.constant(1), scope=SCOPE)  # [S]
    key_slots = g.op("Range", g.constant(0), total, g.constant(1), scope=SCOPE)  # [T]
    return g.op("Sub", g.op("Unsqueeze", query_slots, g.constant([1]), scope=SCOPE),
                g.op("Unsqueeze", key_slots, g.constant([0]), scope=SCOPE), scope=SCOPE)


def alibi_bias(g: GraphBuilder, distance: str, attention_ir) -> str:
    """The alibi entry's score bias: -slope_h · |query slot - key slot| `[1, num_heads, S, T]`
    (distance: `[S, T]`)."""
    from light_llm.models.transformer.positional import alibi_slopes

    num_heads = attention_ir.num_heads
    distance = g.op("Cast", g.op("Abs", distance, scope=SCOPE), scope=SCOPE, to=FLOAT)
    slopes = -alibi_slopes(num_heads).numpy().reshape(1, num_heads, 1, 1)
    return g.op("Mul", g.constant(slopes, np.float32), distance, scope=SCOPE)


def _grouped(g: GraphBuilder, bias: str, attention_ir) -> str:
    """The bias with its head axis split as (kv_heads, groups), for grouped scores (a bias
    without a head axis: one more axis of 1)."""
    if not options.biases_scores(attention_ir.positional.encoding):
        return g.op("Unsqueeze", bias, g.constant([2]), scope=SCOPE)  # [B, 1, 1, S, T]
    shape = g.op("Shape", bias, scope=SCOPE)
    heads = g.constant([attention_ir.num_kv_heads, attention_ir.num_heads // attention_ir.num_kv_heads])
    grouped = g.op("Concat", g.op("Slice", shape, g.constant([0]), g.constant([1]), scope=SCOPE), heads,
                   g.op("Slice", shape, g.constant([2]), g.constant([4]), scope=SCOPE), scope=SCOPE, axis=0)
    return g.op("Reshape", bias, grouped, scope=SCOPE)
