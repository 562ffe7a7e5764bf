"""Token embeddings, plus what the positional encoding adds to them (its entry's
`onnx_embedding`)."""

from __future__ import annotations

from light_llm.exports.onnx_lowering import options
from light_llm.exports.onnx_lowering.builder import GraphBuilder
from light_llm.exports.onnx_lowering.constant_factors import scaled
from light_llm.exports.onnx_lowering.weights import Weights
from light_llm.models.transformer.options import POSITIONAL_ENCODINGS, resolve_path

TOKEN_EMBEDDING = "embed_tokens.weight"
POSITION_EMBEDDING = "embed_positions"  # the module's weights are named under it


def embed(g: GraphBuilder, weights: Weights, ir, input_ids: str, position_ids: str | None) -> str:
    """`[batch, sequence, d_model]`: token embedding, plus the encoding's positions."""
    table = g.initializer(TOKEN_EMBEDDING, weights.tensor(TOKEN_EMBEDDING))
    x = g.op("Gather", table, input_ids, scope="/embed_tokens", axis=0)
    x = scaled(g, x, ir.embedding_scale, "/embedding_scale")
    positions = options.position_embedding(ir.positional.encoding, g.portable)
    if positions is None:
        return x
    return g.op("Add", x, positions(g, weights, ir, position_ids), scope="/embed_positions")


def tabulated_positions(g: GraphBuilder, weights: Weights, ir, position_ids: str) -> str:
    """The encoding's eager embedding module evaluated at every position < max_seq_len (the
    positions the contract allows), with its weights from the model file, as a table
    gathered at position_ids: any embedding module of positions alone lowers this way."""
    import torch

    module = resolve_path(POSITIONAL_ENCODINGS[ir.positional.encoding].embedding)(ir.positional, ir.d_model)
    module.load_state_dict({name: torch.from_numpy(weights.tensor(f"{POSITION_EMBEDDING}.{name}"))
                            for name in module.state_dict()})
    with torch.no_grad():
        table = module(torch.arange(ir.max_seq_len)[None])[0].numpy()
    return g.op("Gather", g.initializer("embed_positions.table", table), position_ids, scope="/embed_positions",
                axis=0)
