"""The fused ONNX graph for onnxruntime, written from the IR and the weights file.

    input_ids → Gather(embed_tokens) [+ absolute positions]
      → per layer: norm → packed QKV MatMul → GroupQueryAttention → o_proj MatMul
                   → Skip*Norm (residual add + norm) → packed gate|up MatMul → down MatMul
      → final Skip*Norm → LM head MatMul (tied: the embedding, transposed once)

seqlens_k, total_sequence_length and the padding/ALiBi bias are computed once per graph
(masks.py). The contract's names, dtypes and dynamic axes are those of Geometry.
"""

from __future__ import annotations

from pathlib import Path

from light_llm.exports.onnx_lowering.attention import fused_attention
from light_llm.exports.onnx_lowering.block import write_block
from light_llm.exports.onnx_lowering.builder import FLOAT, INT64, GraphBuilder
from light_llm.exports.onnx_lowering.embedding import TOKEN_EMBEDDING, embed, rotary_tables
from light_llm.exports.onnx_lowering.masks import attention_inputs
from light_llm.exports.onnx_lowering.norm import ResidualStream
from light_llm.exports.onnx_lowering.plan import attention_unfusable
from light_llm.exports.onnx_lowering.save import save_model
from light_llm.exports.onnx_lowering.weights import Weights
from light_llm.runtime.geometry import Geometry

BATCH, SEQUENCE, PAST, TOTAL = "batch_size", "sequence_length", "past_sequence_length", "total_sequence_length"


def write_fused_graph(ir, weights_path: Path, path: Path, opset: int, metadata: dict[str, str]) -> None:
    """Writes `path` (external data beside it above 2 GB). Every layer must be fusable
    (plan.lowering_plan)."""
    reasons = {reason for block in ir.blocks if (reason := attention_unfusable(block.attention))}
    if reasons:
        raise ValueError(f"the fused writer cannot lower this model: {'; '.join(sorted(reasons))}")
    geometry = Geometry.from_ir(ir)
    g, weights = GraphBuilder(), Weights(weights_path)
    input_ids = g.add_input("input_ids", INT64, [BATCH, SEQUENCE])
    attention_mask = g.add_input("attention_mask", INT64, [BATCH, TOTAL])
    position_ids = g.add_input("position_ids", INT64, [BATCH, SEQUENCE]) if geometry.uses_position_ids else None
    cache_shape = lambda length: [BATCH, geometry.num_kv_heads, length, geometry.head_dim]  # noqa: E731
    for i in range(ir.num_layers):
        for part in ("key", "value"):
            g.add_input(f"past_key_values.{i}.{part}", FLOAT, cache_shape(PAST))
    g.add_output("logits", FLOAT, [BATCH, SEQUENCE, ir.vocab_size])
    for i in range(ir.num_layers):
        for part in ("key", "value"):
            g.add_output(f"present.{i}.{part}", FLOAT, cache_shape(TOTAL))

    masks = attention_inputs(g, input_ids, attention_mask, ir.blocks[0].attention)
    rotary = rotary_tables(g, ir) if ir.positional.encoding == "rope" else None
    stream = ResidualStream(g, weights, embed(g, weights, ir, input_ids, position_ids))
    for block in ir.blocks:
        i = block.index
        cache = (f"past_key_values.{i}.key", f"past_key_values.{i}.value", f"present.{i}.key", f"present.{i}.value")
        write_block(stream, block, lambda h, block=block, cache=cache: fused_attention(
            g, weights, f"blocks.{block.index}.attention", block.attention, h, masks, rotary, position_ids, cache))
    x = stream.normed("final_norm", ir.final_norm) if ir.final_norm else stream.value()
    _lm_head(g, weights, ir, x)
    save_model(g.model(opset, metadata), path)


def _lm_head(g: GraphBuilder, weights: Weights, ir, x: str) -> None:
    if ir.tie_embeddings:  # the embedding table, stored once; onnxruntime folds the Transpose
        weight = g.op("Transpose", TOKEN_EMBEDDING, scope="/lm_head", perm=[1, 0])
    else:
        weight = g.initializer("lm_head.weight", weights.matmul("lm_head"))
    g.node("MatMul", [x, weight], scope="/lm_head", outputs=["logits"])
