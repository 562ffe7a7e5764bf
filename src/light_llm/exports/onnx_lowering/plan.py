"""Which attention lowering each layer gets: "fused" (one GroupQueryAttention node) or
"standard" (standard ONNX ops), and why a layer could not be fused. The graph's form is
"fused" (onnxruntime's com.microsoft ops allowed: norms and activations are fused in
every layer) or "portable" (standard ops only, every layer "standard").

A fused layer with RoPE rotates its Q and K inside GroupQueryAttention, by slot ("attention
by slot": loads in onnxruntime 1.30, e.g. onnxruntime-node's latest release) or at
position_ids ("attention": its query_seqlens input needs onnxruntime 1.32), or, where its
tables do not fit the node, by two RotaryEmbedding nodes before it ("RotaryEmbedding").
`min_onnxruntime` says which onnxruntime the graph may require."""

from __future__ import annotations

from dataclasses import dataclass

from light_llm.errors import ExportError
from light_llm.exports.onnx_lowering import options
from light_llm.exports.onnx_lowering.rotary import ROTARY_IN_ATTENTION_SINCE

GQA_HEAD_DIM_MULTIPLE = 16  # onnxruntime's CPU GroupQueryAttention rejects other head sizes
ONNXRUNTIME_VERSIONS = ("1.30", "1.32")  # min_onnxruntime choices; the first is the default


@dataclass(frozen=True)
class LayerLowering:
    index: int
    lowering: str  # "fused" | "standard"
    reason: str | None = None  # why "standard"
    rotary: str | None = None  # fused with RoPE: "attention by slot" | "attention" | "RotaryEmbedding"

    def to_dict(self) -> dict:
        data = {"layer": self.index, "lowering": self.lowering}
        if self.reason:
            data["reason"] = self.reason
        if self.rotary:
            data["rotary"] = self.rotary
        return data


def attention_unfusable(attention) -> str | None:
    """Why GroupQueryAttention cannot express this attention IR, or None if it can.

    GroupQueryAttention is always causal (a sliding window is its local_window_size);
    ALiBi and padding enter through its additive attention_bias; complex attention is
    exported as real pairs (Re(Q·K̄) = Qr·Kr + Qi·Ki), i.e. plain real attention."""
    if attention.mask_type == "bidirectional":
        return "bidirectional attention: GroupQueryAttention is causal only"
    if attention.head_dim % GQA_HEAD_DIM_MULTIPLE:
        return (f"head_dim {attention.head_dim}: onnxruntime's GroupQueryAttention needs a "
                f"multiple of {GQA_HEAD_DIM_MULTIPLE}")
    return None


def rotary_lowering(attention, min_onnxruntime: str) -> str | None:
    """Where a fused layer rotates Q and K (None where the encoding does not rotate): the
    encoding's fused rotation says (rotary.py: inside GroupQueryAttention where its tables
    fit, by slot or, where `min_onnxruntime` allows it, at position_ids; else RotaryEmbedding
    nodes)."""
    rotation = options.rotation(attention.positional.encoding, portable=False)
    return None if rotation is None else rotation.placement_for(attention, min_onnxruntime)


def check_min_onnxruntime(version: str) -> None:
    if version not in ONNXRUNTIME_VERSIONS:
        raise ExportError(f"min_onnxruntime={version!r}: allowed: {', '.join(ONNXRUNTIME_VERSIONS)}")


def lowering_plan(ir, portable: bool = False, min_onnxruntime: str = ONNXRUNTIME_VERSIONS[0]) -> list[LayerLowering]:
    if portable:
        return [LayerLowering(block.index, "standard", "portable form requested") for block in ir.blocks]
    return [
        LayerLowering(block.index, "standard", reason) if (reason := attention_unfusable(block.attention))
        else LayerLowering(block.index, "fused", rotary=rotary_lowering(block.attention, min_onnxruntime))
        for block in ir.blocks
    ]


def lowering_summary(plan: list[LayerLowering], portable: bool,
                     min_onnxruntime: str = ONNXRUNTIME_VERSIONS[0]) -> dict:
    """For light_llm.json: the form of the whole graph, the onnxruntime it needs and the
    lowering of each layer."""
    form = {"form": "portable" if portable else "fused"}
    if not portable:
        form["min_onnxruntime"] = min_onnxruntime
    return form | {"layers": [layer.to_dict() for layer in plan]}


def shares_kv_buffer(plan: list[LayerLowering]) -> bool:
    """Past and present can share one buffer only where every layer is GroupQueryAttention."""
    return all(layer.lowering == "fused" for layer in plan)


def lowering_notes(plan: list[LayerLowering], portable: bool) -> list[str]:
    """One line for the export output: which form each layer got, and why not fused."""
    standard = [layer for layer in plan if layer.lowering == "standard"]
    inside = sum(layer.rotary == "attention" for layer in plan)
    rotary = f", rotary inside it at position_ids in {inside} (onnxruntime >= {ROTARY_IN_ATTENTION_SINCE})" if inside else ""
    if not standard:
        return [f"lowering: fused onnxruntime graph, GroupQueryAttention in all {len(plan)} layers{rotary}"]
    if portable:
        return [f"lowering: portable graph, standard ONNX ops in all {len(plan)} layers (--portable)"]
    reasons = "; ".join(sorted({layer.reason for layer in standard if layer.reason}))
    return [f"lowering: fused onnxruntime graph, attention in standard ONNX ops in {len(standard)} "
            f"of {len(plan)} layers ({reasons})"]
