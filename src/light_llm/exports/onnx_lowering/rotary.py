"""The rope entry's ONNX rotation (options.py): cos and sin tables `[max_seq_len,
rotary_dim/2]` of θ_j·p computed by the eager module's own code (so the export rotates by
exactly the same numbers: llama3 and yarn frequencies are just other tables, yarn's
attention factor multiplies both), once per graph for each distinct PositionalIR (a layer
pattern may give sliding-window layers their own base).

fused (a layer in one GroupQueryAttention node): rotated inside the node (do_rotary, the
tables) where the tables fit it, else by two RotaryEmbedding nodes (com.microsoft) before
it, on the packed `[batch, seq, heads·head_dim]` projections. Inside, by default the node
rotates each token by its slot (no position_ids: runtime/slot_rotation.py says why that is
the same attention and what a caller that moves a row's cache does); from onnxruntime 1.32
(`min_onnxruntime`) it can read position_ids instead (with query_seqlens, masks.py).
portable (standard-ops attention): x·cos + rotate(x)·sin on `[batch, heads, seq, head_dim]`,
cos and sin gathered at position_ids once per graph.

Another rotation's lowering is the same pair of classes, built per layer as
Class(g, AttentionIR, max_seq_len, position_ids, placement): the fused one with
`placement_for(AttentionIR, min_onnxruntime)` (plan.py asks it), `inside`, `rotate(q, k,
scope)`, `node_inputs()` and `node_attributes()`; the portable one with `rotate(q, k, scope)`."""

from __future__ import annotations

from light_llm.exports.onnx_lowering.builder import MS_DOMAIN, GraphBuilder
from light_llm.runtime.slot_rotation import BY_SLOT

GQA_ROTARY_PAIRS_MULTIPLE = 8  # GroupQueryAttention's do_rotary takes cos/sin tables this many pairs wide
ROTARY_IN_ATTENTION_SINCE = "1.32"  # GroupQueryAttention's query_seqlens input
INSIDE, BEFORE = "attention", "RotaryEmbedding"  # where a fused layer rotates (plan.py's `rotary`), besides BY_SLOT


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def rotary_tables(g: GraphBuilder, positional, head_dim: int, max_seq_len: int) -> tuple[str, str]:
    """cos and sin `[max_seq_len, rotary_dim/2]` for `positional`, once per graph (named
    rotary, rotary.1, … in order of first use)."""
    def make(index: int) -> tuple[str, str]:
        import torch

        from light_llm.models.transformer.positional import RotaryAngles

        name = "rotary" if index == 0 else f"rotary.{index}"
        module = RotaryAngles(positional, head_dim)
        angles = module(torch.arange(max_seq_len)[None])[0, 0]
        return (g.initializer(f"{name}.cos_cache", (angles.cos() * module.magnitude).numpy()),
                g.initializer(f"{name}.sin_cache", (angles.sin() * module.magnitude).numpy()))

    return g.once("rotary tables", positional, make)


class FusedRotary:
    """`placement`: inside the GroupQueryAttention node, BY_SLOT or at position_ids (INSIDE),
    or BEFORE it (plan.py)."""

    def __init__(self, g: GraphBuilder, attention_ir, max_seq_len: int, position_ids: str, placement: str):
        self.g, self.ir, self.position_ids, self.placement = g, attention_ir, position_ids, placement
        self.tables = rotary_tables(g, attention_ir.positional, attention_ir.head_dim, max_seq_len)

    @staticmethod
    def placement_for(attention_ir, min_onnxruntime: str) -> str:
        """Inside the node where the tables fit its do_rotary: at position_ids where
        `min_onnxruntime` has query_seqlens, else by slot; else RotaryEmbedding nodes."""
        pairs = attention_ir.positional.rotary_dim(attention_ir.head_dim) // 2
        if pairs % GQA_ROTARY_PAIRS_MULTIPLE:
            return BEFORE
        return INSIDE if version(min_onnxruntime) >= version(ROTARY_IN_ATTENTION_SINCE) else BY_SLOT

    @property
    def inside(self) -> bool:
        return self.placement in (INSIDE, BY_SLOT)

    def rotate(self, q: str, k: str, scope: str) -> tuple[str, str]:
        """Q and K `[batch, seq, heads·head_dim]` rotated by RotaryEmbedding nodes at position_ids."""
        positional = self.ir.positional
        return tuple(self.g.op("RotaryEmbedding", t, self.position_ids, *self.tables, scope=scope, domain=MS_DOMAIN,
                               interleaved=_interleaved(positional), num_heads=heads,
                               rotary_embedding_dim=positional.rotary_dim(self.ir.head_dim))
                     for t, heads in ((q, self.ir.num_heads), (k, self.ir.num_kv_heads)))

    def node_inputs(self) -> list[str]:
        """GroupQueryAttention's cos_cache, sin_cache and position_ids inputs."""
        return [*self.tables, self.position_ids if self.placement == INSIDE else ""]

    def node_attributes(self) -> dict:
        return {"do_rotary": 1, "rotary_interleaved": _interleaved(self.ir.positional)}


class StandardRotary:
    def __init__(self, g: GraphBuilder, attention_ir, max_seq_len: int, position_ids: str, placement: str | None):
        self.g, self.ir = g, attention_ir
        positional = attention_ir.positional
        tables = rotary_tables(g, positional, attention_ir.head_dim, max_seq_len)
        self.cos, self.sin = g.once("rotary at positions", positional,
                                    lambda _: _at_positions(g, tables, position_ids, positional.rope_pairing))

    def rotate(self, q: str, k: str, scope: str) -> tuple[str, str]:
        """Q `[batch, heads, seq, head_dim]` and K `[batch, kv_heads, seq, head_dim]` rotated."""
        return self._rotate(q, scope), self._rotate(k, scope)

    def _rotate(self, x: str, scope: str) -> str:
        """x·cos + rotate(x)·sin on the first rotary_dim dims (the rest pass through):
        half-split pairs rotate (x1, x2) → (-x2, x1) on the halves, interleaved pairs
        (x_2j, x_2j+1) → (-x_2j+1, x_2j)."""
        g, dim = self.g, self.ir.head_dim
        rotary_dim = self.ir.positional.rotary_dim(dim)
        passed = None
        if rotary_dim < dim:
            x, passed = g.node("Split", [x, g.constant([rotary_dim, dim - rotary_dim])], scope=scope,
                               outputs=2, axis=-1)
        if _interleaved(self.ir.positional):
            pairs = g.op("Reshape", x, g.constant([0, 0, 0, -1, 2]), scope=scope)  # [B, H, S, R/2, 2]
            even, odd = g.node("Split", [pairs, g.constant([1, 1])], scope=scope, outputs=2, axis=-1)
            rotated = g.op("Reshape", g.op("Concat", g.op("Neg", odd, scope=scope), even, scope=scope, axis=-1),
                           g.constant([0, 0, 0, rotary_dim]), scope=scope)
        else:
            first, second = g.node("Split", [x, g.constant([rotary_dim // 2] * 2)], scope=scope, outputs=2,
                                   axis=-1)
            rotated = g.op("Concat", g.op("Neg", second, scope=scope), first, scope=scope, axis=-1)
        out = g.op("Add", g.op("Mul", x, self.cos, scope=scope), g.op("Mul", rotated, self.sin, scope=scope),
                   scope=scope)
        return out if passed is None else g.op("Concat", out, passed, scope=scope, axis=-1)


def _interleaved(positional) -> int:
    return int(positional.rope_pairing == "interleaved")


def _at_positions(g: GraphBuilder, tables: tuple[str, str], position_ids: str, pairing: str) -> tuple[str, str]:
    """cos and sin `[batch, 1, sequence, rotary_dim]` at position_ids: the half table twice
    (half-split pairs) or each entry twice in place (interleaved pairs)."""
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
