"""Feed-forward sub-layers: gated (SwiGLU, GeGLU: one packed gate|up MatMul) and MLP."""

from __future__ import annotations

import numpy as np

from light_llm.exports.onnx_lowering.builder import MS_DOMAIN, GraphBuilder
from light_llm.exports.onnx_lowering.linear import linear
from light_llm.exports.onnx_lowering.weights import Weights
from light_llm.models.transformer.options import FFN_VARIANTS, entry


def activation(g: GraphBuilder, name: str, x: str, scope: str) -> str:
    if name == "relu":
        return g.op("Relu", x, scope=scope)
    if name == "gelu_tanh":
        return gelu_tanh(g, x, scope)
    if g.contrib:  # SiLU x·σ(x) is QuickGelu with alpha 1; Gelu is the exact (erf) GELU
        return (g.op("QuickGelu", x, scope=scope, domain=MS_DOMAIN, alpha=1.0) if name == "silu"
                else g.op("Gelu", x, scope=scope, domain=MS_DOMAIN))
    if name == "silu":
        return g.op("Mul", x, g.op("Sigmoid", x, scope=scope), scope=scope)
    erf = g.op("Erf", g.op("Mul", x, g.constant(1 / np.sqrt(2), np.float32), scope=scope), scope=scope)
    half_x = g.op("Mul", x, g.constant(0.5, np.float32), scope=scope)
    return g.op("Mul", half_x, g.op("Add", erf, g.constant(1.0, np.float32), scope=scope), scope=scope)


def gelu_tanh(g: GraphBuilder, x: str, scope: str) -> str:
    """FastGelu (onnxruntime's tanh GELU) in the fused form; portable: 0.5·x·(1 + tanh(√(2/π)·
    (x + 0.044715·x³))) in standard ops (opset 20's Gelu(approximate="tanh") is not in every
    opset light_llm exports)."""
    if g.contrib:
        return g.op("FastGelu", x, scope=scope, domain=MS_DOMAIN)
    f32 = lambda value: g.constant(value, np.float32)  # noqa: E731
    cube = g.op("Mul", g.op("Mul", x, x, scope=scope), x, scope=scope)
    inner = g.op("Add", x, g.op("Mul", cube, f32(0.044715), scope=scope), scope=scope)
    tanh = g.op("Tanh", g.op("Mul", inner, f32(np.sqrt(2 / np.pi)), scope=scope), scope=scope)
    half_x = g.op("Mul", x, f32(0.5), scope=scope)
    return g.op("Mul", half_x, g.op("Add", tanh, f32(1.0), scope=scope), scope=scope)


def ffn(g: GraphBuilder, weights: Weights, prefix: str, ffn_ir, x: str) -> str:
    scope = f"/{prefix}"
    if entry(FFN_VARIANTS, ffn_ir.variant, "FFN variant").activation is None:  # ungated: Linear → act → Linear
        hidden = activation(g, ffn_ir.activation, linear(g, weights, x, f"{prefix}.fc_in"), scope)
        return linear(g, weights, hidden, f"{prefix}.fc_out")
    gate_up = linear(g, weights, x, f"{prefix}.gate_proj", f"{prefix}.up_proj",
                     packed_name=f"{prefix}.gate_up_proj")
    gate, up = g.node("Split", [gate_up, g.constant([ffn_ir.hidden_dim] * 2)], scope=scope,
                      outputs=2, axis=-1)
    hidden = g.op("Mul", activation(g, ffn_ir.activation, gate, scope), up, scope=scope)
    return linear(g, weights, hidden, f"{prefix}.down_proj")
