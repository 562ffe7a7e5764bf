"""The ONNX graph written from the IR and the weights file, in either form.

Fused (onnxruntime):
    input_ids → Gather(embed_tokens) [+ absolute positions]
      → per layer: norm → packed QKV MatMul [→ RotaryEmbedding ×2] → GroupQueryAttention → o_proj MatMul
                   → Skip*Norm (residual add + norm) → packed gate|up MatMul → down MatMul
      → final Skip*Norm → LM head MatMul (tied: the embedding, transposed once)
Portable: the same graph in standard ONNX ops (attention.standard_attention, plain norms
and activations). A layer the fused op cannot express gets standard-ops attention inside
the fused form (plan.py says which and why).

The mask inputs (masks.py) and the rotary tables are computed once per graph. The
contract's names, dtypes and dynamic axes are those of Geometry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from light_llm.exports.onnx_lowering.attention import fused_attention, standard_attention
from light_llm.exports.onnx_lowering.block import write_block
from light_llm.exports.onnx_lowering.builder import FLOAT, INT64, GraphBuilder
from light_llm.exports.onnx_lowering.embedding import (
    TOKEN_EMBEDDING,
    embed,
    positional_encoding,
    rotary_for_positions,
    rotary_tables,
)
from light_llm.exports.onnx_lowering.masks import attention_inputs
from light_llm.exports.onnx_lowering.norm import ResidualStream
from light_llm.exports.onnx_lowering.plan import LayerLowering
from light_llm.exports.onnx_lowering.qk_norm import soft_capped
from light_llm.exports.onnx_lowering.tensors import TensorStore
from light_llm.exports.onnx_lowering.weights import Weights
from light_llm.runtime.geometry import Geometry

BATCH, SEQUENCE, PAST, TOTAL = "batch_size", "sequence_length", "past_sequence_length", "total_sequence_length"


def write_graph(ir, weights_path: Path, path: Path, opset: int, metadata: dict[str, str],
                plan: list[LayerLowering], portable: bool, *, external: bool = False,
                on_layer: Callable[[int], None] | None = None) -> None:
    """Writes `path` (external data beside it above 2 GB, or when `external` asks).
    `plan`: each layer's attention lowering (plan.lowering_plan); `portable`: standard
    ONNX ops only; `on_layer(done)`: called as each layer is written."""
    if portable and any(layer.lowering == "fused" for layer in plan):
        raise ValueError("a portable graph has no fused layers")
    with TensorStore(path.parent) as tensors:
        g = GraphBuilder(tensors, contrib=not portable)
        _write(g, Weights(weights_path), ir, plan, on_layer or (lambda done: None))
        tensors.save(g.model(opset, metadata), path, external=external)


def _write(g: GraphBuilder, weights: Weights, ir, plan: list[LayerLowering], on_layer) -> None:
    geometry = Geometry.from_ir(ir)
    input_ids = g.add_input("input_ids", INT64, [BATCH, SEQUENCE])
    attention_mask = g.add_input("attention_mask", INT64, [BATCH, TOTAL if geometry.cached else SEQUENCE])
    position_ids = g.add_input("position_ids", INT64, [BATCH, SEQUENCE]) if geometry.uses_position_ids else None
    cache_shape = lambda length: [BATCH, geometry.num_kv_heads, length, geometry.head_dim]  # noqa: E731
    layers = range(ir.num_layers) if geometry.cached else ()
    for i in layers:
        for part in ("key", "value"):
            g.add_input(f"past_key_values.{i}.{part}", FLOAT, cache_shape(PAST))
    g.add_output("logits", FLOAT, [BATCH, SEQUENCE, ir.vocab_size])
    for i in layers:
        for part in ("key", "value"):
            g.add_output(f"present.{i}.{part}", FLOAT, cache_shape(TOTAL))

    # Each distinct mask (per lowering) and rotary table is computed once per graph; a layer
    # pattern (sliding-window and global layers, each its RoPE base) has two of each.
    rotates_inside = any(layer.rotary == "attention" for layer in plan)
    masks = {}
    for block, layer in zip(ir.blocks, plan):
        key = (layer.lowering, block.attention.mask_kind)
        if key not in masks:
            masks[key] = attention_inputs(g, input_ids, attention_mask, block.attention,
                                          fused=layer.lowering == "fused", rotates=rotates_inside)
    rotates = positional_encoding(ir).rotation is not None
    lowerings = {layer.lowering for layer in plan}
    tables, rotations = {}, {}
    for block in ir.blocks if rotates else ():
        positional = block.attention.positional
        if positional not in tables:
            tables[positional] = rotary_tables(g, ir, positional, name=f"rotary{_suffix(len(tables))}")
            rotations[positional] = (rotary_for_positions(g, tables[positional], position_ids,
                                                          positional.rope_pairing)
                                     if "standard" in lowerings else None)
    stream = ResidualStream(g, weights, embed(g, weights, ir, input_ids, position_ids))
    for block, layer in zip(ir.blocks, plan):
        i, prefix = block.index, f"blocks.{block.index}.attention"
        cache = (f"past_key_values.{i}.key", f"past_key_values.{i}.value", f"present.{i}.key",
                 f"present.{i}.value") if geometry.cached else None
        block_masks = masks[(layer.lowering, block.attention.mask_kind)]
        positional = block.attention.positional
        if layer.lowering == "fused":
            attend = lambda h, b=block, c=cache, m=block_masks, t=tables.get(positional), r=layer.rotary: fused_attention(  # noqa: E731
                g, weights, prefix, b.attention, h, m, t, position_ids, c, rotary_inside=r == "attention")
        else:
            attend = lambda h, b=block, c=cache, m=block_masks, r=rotations.get(positional): standard_attention(  # noqa: E731
                g, weights, prefix, b.attention, h, m, r, c)
        write_block(stream, block, attend)
        on_layer(i + 1)
    x = stream.normed("final_norm", ir.final_norm) if ir.final_norm else stream.value()
    _lm_head(g, weights, ir, x)


def _suffix(index: int) -> str:
    return "" if index == 0 else f".{index}"


def _lm_head(g: GraphBuilder, weights: Weights, ir, x: str) -> None:
    if ir.tie_embeddings:  # the embedding table, stored once; onnxruntime folds the Transpose
        weight = g.op("Transpose", TOKEN_EMBEDDING, scope="/lm_head", perm=[1, 0])
    else:
        weight = g.initializer("lm_head.weight", weights.matmul("lm_head"))
    if not ir.lm_head_bias and ir.final_logit_softcap is None:
        g.node("MatMul", [x, weight], scope="/lm_head", outputs=["logits"])  # typed as a graph output
        return
    logits = g.op("MatMul", x, weight, scope="/lm_head")
    if ir.lm_head_bias:
        logits = g.op("Add", logits, g.initializer("lm_head.bias", weights.tensor("lm_head.bias")),
                      scope="/lm_head")
    if ir.final_logit_softcap is not None:
        logits = soft_capped(g, logits, ir.final_logit_softcap, "/logit_cap")
    g.node("Identity", [logits], scope="/lm_head", outputs=["logits"])
