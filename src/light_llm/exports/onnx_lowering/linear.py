"""Linear layers as MatMul (+ Add for a bias), several Linears of one input packed into
one MatMul."""

from __future__ import annotations

from light_llm.exports.onnx_lowering.builder import GraphBuilder
from light_llm.exports.onnx_lowering.weights import Weights


def linear(g: GraphBuilder, weights: Weights, x: str, *names: str, packed_name: str | None = None) -> str:
    """x @ [W_1ᵀ | W_2ᵀ | …] (+ [b_1 | b_2 | …]) for the Linears `names`."""
    label = packed_name or names[0]
    weight = g.initializer(f"{label}.weight", weights.matmul(*names))
    y = g.declare_float(g.op("MatMul", x, weight, scope=f"/{label}"))
    bias = weights.bias(*names)
    if bias is not None:
        y = g.op("Add", y, g.initializer(f"{label}.bias", bias), scope=f"/{label}")
    return y
