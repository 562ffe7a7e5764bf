"""Token embeddings, absolute position embeddings (learned, sinusoidal) and the
rotary cos/sin tables that GroupQueryAttention indexes by position."""

from __future__ import annotations

import numpy as np

from light_llm.exports.onnx_lowering.builder import GraphBuilder
from light_llm.exports.onnx_lowering.weights import Weights
from light_llm.models.transformer.options import (
    POSITIONAL_ENCODINGS,
    PositionalEncoding,
    entry,
    resolve_path,
)

TOKEN_EMBEDDING = "embed_tokens.weight"
POSITION_EMBEDDING = "embed_positions"  # the module's weights are named under it


def embed(g: GraphBuilder, weights: Weights, ir, input_ids: str, position_ids: str | None) -> str:
    """`[batch, sequence, d_model]`: token embedding, plus the absolute position's."""
    table = g.initializer(TOKEN_EMBEDDING, weights.tensor(TOKEN_EMBEDDING))
    x = g.op("Gather", table, input_ids, scope="/embed_tokens", axis=0)
    if ir.embedding_scale != 1.0:
        x = g.op("Mul", x, g.constant(ir.embedding_scale, np.float32), scope="/embedding_scale")
    positions = _position_table(weights, ir)
    if positions is None:
        return x
    assert position_ids is not None
    table = g.initializer("embed_positions.table", positions)
    return g.op("Add", x, g.op("Gather", table, position_ids, scope="/embed_positions", axis=0),
                scope="/embed_positions")


def _position_table(weights: Weights, ir) -> np.ndarray | None:
    """The encoding's embedding module (its option-table entry) at every position <
    max_seq_len (the positions the contract allows), with its weights from the model
    file; None for encodings that add nothing to the embeddings."""
    import torch

    module_path = positional_encoding(ir).embedding
    if module_path is None:
        return None
    module = resolve_path(module_path)(ir.positional, ir.d_model)
    module.load_state_dict({name: torch.from_numpy(weights.tensor(f"{POSITION_EMBEDDING}.{name}"))
                            for name in module.state_dict()})
    with torch.no_grad():
        return module(torch.arange(ir.max_seq_len)[None])[0].numpy()


def positional_encoding(ir) -> PositionalEncoding:
    return entry(POSITIONAL_ENCODINGS, ir.positional.encoding, "positional encoding")


def rotary_tables(g: GraphBuilder, ir, positional=None, name: str = "rotary") -> tuple[str, str]:
    """cos and sin `[max_seq_len, rotary_dim/2]` of θ_j·p, computed by the eager module's
    own code (so the export rotates by exactly the same numbers): scaled frequencies
    (llama3, yarn) are just other tables, and yarn's attention factor multiplies both.
    `positional`: a layer's own (its RoPE base); default the model's."""
    import torch

    from light_llm.models.transformer.positional import RotaryAngles

    module = RotaryAngles(positional or ir.positional, ir.head_dim)
    angles = module(torch.arange(ir.max_seq_len)[None])[0, 0]
    return (g.initializer(f"{name}.cos_cache", (angles.cos() * module.magnitude).numpy()),
            g.initializer(f"{name}.sin_cache", (angles.sin() * module.magnitude).numpy()))


def rotary_for_positions(g: GraphBuilder, tables: tuple[str, str], position_ids: str,
                         pairing: str = "half") -> tuple[str, str]:
    """cos and sin `[batch, 1, sequence, rotary_dim]` at position_ids, once per graph, for
    standard-ops rotary: the half table twice (half-split pairs) or each entry twice in
    place (interleaved pairs)."""
    scope = "/rotary"
    gathered = []
    for table in tables:
        half = g.op("Gather", table, position_ids, scope=scope, axis=0)  # [B, S, R/2]
        if pairing == "interleaved":
            pairs = g.op("Unsqueeze", half, g.constant([-1]), scope=scope)  # [B, S, R/2, 1]
            full = g.op("Reshape", g.op("Concat", pairs, pairs, scope=scope, axis=-1),
                        g.constant([0, 0, -1]), scope=scope)
        else:
            full = g.op("Concat", half, half, scope=scope, axis=-1)
        gathered.append(g.op("Unsqueeze", full, g.constant([1]), scope=scope))
    return gathered[0], gathered[1]
