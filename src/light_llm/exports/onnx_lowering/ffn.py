"""Feed-forward sub-layers (the FFN variants' ONNX lowerings, options.py): gated (SwiGLU,
GeGLU: one packed gate|up MatMul) and MLP. The activation is its own entry's lowering.
Each is (g, weights, prefix, FFNIR, x) → output, for both forms."""

from __future__ import annotations

from light_llm.exports.onnx_lowering import options
from light_llm.exports.onnx_lowering.builder import GraphBuilder
from light_llm.exports.onnx_lowering.linear import linear
from light_llm.exports.onnx_lowering.weights import Weights


def activation(g: GraphBuilder, name: str, x: str, scope: str) -> str:
    return options.activation(name, g.portable)(g, x, scope)


def ffn(g: GraphBuilder, weights: Weights, prefix: str, ffn_ir, x: str) -> str:
    """The variant's lowering (its option-table entry), or the mixture of experts' (ffn_ir.moe)."""
    if ffn_ir.moe is not None:
        return options.mixture_of_experts(g.portable)(g, weights, prefix, ffn_ir, x)
    return options.ffn(ffn_ir.variant, g.portable)(g, weights, prefix, ffn_ir, x)


def mlp(g: GraphBuilder, weights: Weights, prefix: str, ffn_ir, x: str) -> str:
    """fc_out(act(fc_in(x)))."""
    hidden = activation(g, ffn_ir.activation, linear(g, weights, x, f"{prefix}.fc_in"), f"/{prefix}")
    return linear(g, weights, hidden, f"{prefix}.fc_out")


def gated(g: GraphBuilder, weights: Weights, prefix: str, ffn_ir, x: str) -> str:
    """down(act(gate) · up), gate|up one MatMul."""
    scope = f"/{prefix}"
    gate_up = linear(g, weights, x, f"{prefix}.gate_proj", f"{prefix}.up_proj",
                     packed_name=f"{prefix}.gate_up_proj")
    gate, up = g.node("Split", [gate_up, g.constant([ffn_ir.hidden_dim] * 2)], scope=scope,
                      outputs=2, axis=-1)
    hidden = g.op("Mul", activation(g, ffn_ir.activation, gate, scope), up, scope=scope)
    return linear(g, weights, hidden, f"{prefix}.down_proj")
