"""Which attention lowering each layer gets: "fused" (one GroupQueryAttention node) or
"standard" (standard ONNX ops), and why a layer could not be fused. The graph's form is
"fused" (onnxruntime's com.microsoft ops allowed: norms and activations are fused in
every layer) or "portable" (standard ops only, every layer "standard")."""

from __future__ import annotations

from dataclasses import dataclass

GQA_HEAD_DIM_MULTIPLE = 16  # onnxruntime's CPU GroupQueryAttention rejects other head sizes


@dataclass(frozen=True)
class LayerLowering:
    index: int
    lowering: str  # "fused" | "standard"
    reason: str | None = None  # why "standard"

    def to_dict(self) -> dict:
        data = {"layer": self.index, "lowering": self.lowering}
        if self.reason:
            data["reason"] = self.reason
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


def lowering_plan(ir, portable: bool = False) -> list[LayerLowering]:
    if portable:
        return [LayerLowering(block.index, "standard", "portable form requested") for block in ir.blocks]
    return [
        LayerLowering(block.index, "standard", reason) if (reason := attention_unfusable(block.attention))
        else LayerLowering(block.index, "fused")
        for block in ir.blocks
    ]


def lowering_summary(plan: list[LayerLowering], portable: bool) -> dict:
    """For light_llm.json: the form of the whole graph and the lowering of each layer."""
    return {"form": "portable" if portable else "fused", "layers": [layer.to_dict() for layer in plan]}


def shares_kv_buffer(plan: list[LayerLowering]) -> bool:
    """Past and present can share one buffer only where every layer is GroupQueryAttention."""
    return all(layer.lowering == "fused" for layer in plan)


def lowering_notes(plan: list[LayerLowering], portable: bool) -> list[str]:
    """One line for the export output: which form each layer got, and why not fused."""
    standard = [layer for layer in plan if layer.lowering == "standard"]
    if not standard:
        return [f"lowering: fused onnxruntime graph, GroupQueryAttention in all {len(plan)} layers"]
    if portable:
        return [f"lowering: portable graph, standard ONNX ops in all {len(plan)} layers (--portable)"]
    reasons = "; ".join(sorted({layer.reason for layer in standard if layer.reason}))
    return [f"lowering: fused onnxruntime graph, attention in standard ONNX ops in {len(standard)} "
            f"of {len(plan)} layers ({reasons})"]
