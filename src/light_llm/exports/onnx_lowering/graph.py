"""The ONNX graph written from the IR and the weights file, in either form.

Fused (onnxruntime):
    input_ids → Gather(embed_tokens) [+ absolute positions]
      → per layer: norm → packed QKV MatMul [→ RotaryEmbedding ×2] → GroupQueryAttention → o_proj MatMul
                   → Skip*Norm (residual add + norm) → packed gate|up MatMul → down MatMul
      → final Skip*Norm → LM head MatMul (tied: the embedding, transposed once)
Portable: the same graph in standard ONNX ops (attention.standard_attention, plain norms
and activations). A layer the fused op cannot express gets standard-ops attention inside
the fused form (plan.py says which and why).

Every option is written by its option-table entry's lowering (options.py): the attention
kernel's for the layer's form, the positional encoding's rotation, score bias and position
embedding, the FFN variant's, the norm's and the activation's. The mask inputs (masks.py)
and the rotary tables are computed once per graph (GraphBuilder.once). The contract's
names, dtypes and dynamic axes are those of Geometry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from light_llm.exports.onnx_lowering import options
from light_llm.exports.onnx_lowering.block import write_block
from light_llm.exports.onnx_lowering.builder import FLOAT, INT64, GraphBuilder
from light_llm.exports.onnx_lowering.constant_factors import divided
from light_llm.exports.onnx_lowering.embedding import TOKEN_EMBEDDING, embed
from light_llm.exports.onnx_lowering.masks import AttentionInputs, attention_inputs
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
        g = GraphBuilder(tensors, portable=portable)
        _write(g, Weights(weights_path), ir, plan, on_layer or (lambda done: None))
        tensors.save(g.model(opset, metadata), path, external=external)


@dataclass(frozen=True)
class GraphInputs:
    input_ids: str
    attention_mask: str
    position_ids: str | None  # None where the graph reads no positions
    cached: bool  # past_key_values.{i} in, present.{i} out

    def cache(self, layer: int) -> tuple[str, str, str, str] | None:
        """(past key, past value, present key, present value) of `layer`."""
        if not self.cached:
            return None
        return (f"past_key_values.{layer}.key", f"past_key_values.{layer}.value",
                f"present.{layer}.key", f"present.{layer}.value")


@dataclass(frozen=True)
class LayerAttention:
    """One layer's attention sub-layer, as write_block calls it: normalised input → output,
    written by the kernel entry's lowering for the layer's form."""

    g: GraphBuilder
    weights: Weights
    lowering: Any  # (g, weights, prefix, AttentionIR, x, masks, rotation, cache) → output
    prefix: str
    ir: Any  # AttentionIR
    masks: AttentionInputs
    rotation: Any  # the encoding's rotation for this form, or None
    cache: tuple[str, str, str, str] | None

    def __call__(self, x: str) -> str:
        return self.lowering(self.g, self.weights, self.prefix, self.ir, x, self.masks, self.rotation, self.cache)


def _write(g: GraphBuilder, weights: Weights, ir, plan: list[LayerLowering], on_layer) -> None:
    inputs = _inputs_and_outputs(g, ir)
    layers = list(zip(ir.blocks, plan))
    masks = [_masks(g, inputs, block.attention, layer, plan) for block, layer in layers]
    rotations = [_rotation(g, ir, inputs, block.attention, layer) for block, layer in layers]
    stream = ResidualStream(g, weights, embed(g, weights, ir, inputs.input_ids, inputs.position_ids))
    for (block, layer), block_masks, rotation in zip(layers, masks, rotations):
        attention = options.attention(block.attention.kernel, portable=layer.lowering != "fused")
        write_block(stream, block, LayerAttention(g, weights, attention, f"blocks.{block.index}.attention",
                                                  block.attention, block_masks, rotation,
                                                  inputs.cache(block.index)))
        on_layer(block.index + 1)
    x = stream.normed("final_norm", ir.final_norm) if ir.final_norm else stream.value()
    _lm_head(g, weights, ir, x)


def _inputs_and_outputs(g: GraphBuilder, ir) -> GraphInputs:
    geometry = Geometry.from_ir(ir)
    input_ids = g.add_input("input_ids", INT64, [BATCH, SEQUENCE])
    attention_mask = g.add_input("attention_mask", INT64, [BATCH, TOTAL if geometry.cached else SEQUENCE])
    position_ids = g.add_input("position_ids", INT64, [BATCH, SEQUENCE]) if geometry.uses_position_ids else None
    inputs = GraphInputs(input_ids, attention_mask, position_ids, geometry.cached)
    layers = range(ir.num_layers) if geometry.cached else ()
    for i in layers:
        for part in ("key", "value"):
            g.add_input(f"past_key_values.{i}.{part}", FLOAT, [BATCH, geometry.num_kv_heads, PAST, geometry.head_dim])
    g.add_output("logits", FLOAT, [BATCH, SEQUENCE, ir.vocab_size])
    for i in layers:
        for part in ("key", "value"):
            g.add_output(f"present.{i}.{part}", FLOAT, [BATCH, geometry.num_kv_heads, TOTAL, geometry.head_dim])
    return inputs


def _masks(g: GraphBuilder, inputs: GraphInputs, attention_ir, layer: LayerLowering,
           plan: list[LayerLowering]) -> AttentionInputs:
    """The layer's mask inputs, once per graph for each lowering, kind of mask (a layer
    pattern mixes sliding-window and global layers) and score bias (its encoding's)."""
    fused = layer.lowering == "fused"
    rotates_inside = any(other.rotary == "attention" for other in plan)  # query_seqlens for every fused layer
    key = (layer.lowering, attention_ir.mask_kind, attention_ir.positional.encoding)
    return g.once("masks", key, lambda _: attention_inputs(
        g, inputs.input_ids, inputs.attention_mask, attention_ir, fused=fused, rotates=rotates_inside))


def _rotation(g: GraphBuilder, ir, inputs: GraphInputs, attention_ir, layer: LayerLowering):
    """The positional encoding's rotation of Q and K for the layer's form (None: none)."""
    rotation = options.rotation(attention_ir.positional.encoding, portable=layer.lowering != "fused")
    if rotation is None:
        return None
    return rotation(g, attention_ir, ir.max_seq_len, inputs.position_ids, layer.rotary)


def _lm_head(g: GraphBuilder, weights: Weights, ir, x: str) -> None:
    if ir.tie_embeddings:  # the embedding table, stored once; onnxruntime folds the Transpose
        weight = g.op("Transpose", TOKEN_EMBEDDING, scope="/lm_head", perm=[1, 0])
    else:
        weight = g.initializer("lm_head.weight", weights.matmul("lm_head"))
    if not ir.lm_head_bias and ir.final_logit_softcap is None and ir.logit_divisor == 1.0:
        g.node("MatMul", [x, weight], scope="/lm_head", outputs=["logits"])  # typed as a graph output
        return
    logits = g.op("MatMul", x, weight, scope="/lm_head")
    if ir.lm_head_bias:
        logits = g.op("Add", logits, g.initializer("lm_head.bias", weights.tensor("lm_head.bias")),
                      scope="/lm_head")
    logits = divided(g, logits, ir.logit_divisor, "/logit_divisor")
    if ir.final_logit_softcap is not None:
        logits = soft_capped(g, logits, ir.final_logit_softcap, "/logit_cap")
    g.node("Identity", [logits], scope="/lm_head", outputs=["logits"])
