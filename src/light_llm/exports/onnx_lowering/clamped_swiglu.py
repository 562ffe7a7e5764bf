"""`ffn.variant: clamped_swiglu` in ONNX (models/transformer/clamped_swiglu.py): gate|up in
one packed MatMul, Clip on each, then g·σ(α·g) — onnxruntime's QuickGelu (alpha α) in the
fused form, Mul and Sigmoid in the portable one — times (u + 1), then down."""

from __future__ import annotations

import numpy as np

from light_llm.exports.onnx_lowering.builder import MS_DOMAIN, GraphBuilder
from light_llm.exports.onnx_lowering.linear import linear
from light_llm.exports.onnx_lowering.weights import Weights


def fused(g: GraphBuilder, weights: Weights, prefix: str, ffn_ir, x: str) -> str:
    return _clamped(g, weights, prefix, ffn_ir, x, lambda gate, scope: g.op(
        "QuickGelu", gate, scope=scope, domain=MS_DOMAIN, alpha=ffn_ir.swiglu_alpha))


def moe_gating(ffn_ir) -> dict:
    """onnxruntime's MoE node computes min(g, L)·σ(α·min(g, L))·(clamp(u, −L, L) + β): this
    variant is α, L and β = 1 (the option table's onnx_moe_gating)."""
    return dict(activation_alpha=ffn_ir.swiglu_alpha, activation_beta=1.0, swiglu_limit=ffn_ir.swiglu_limit)


def portable(g: GraphBuilder, weights: Weights, prefix: str, ffn_ir, x: str) -> str:
    def gate_activation(gate: str, scope: str) -> str:
        scaled = g.op("Mul", gate, g.constant(ffn_ir.swiglu_alpha, np.float32), scope=scope)
        return g.op("Mul", gate, g.op("Sigmoid", scaled, scope=scope), scope=scope)

    return _clamped(g, weights, prefix, ffn_ir, x, gate_activation)


def _clamped(g: GraphBuilder, weights: Weights, prefix: str, ffn_ir, x: str, gate_activation) -> str:
    scope = f"/{prefix}"
    limit = ffn_ir.swiglu_limit
    gate_up = linear(g, weights, x, f"{prefix}.gate_proj", f"{prefix}.up_proj", packed_name=f"{prefix}.gate_up_proj")
    gate, up = g.node("Split", [gate_up, g.constant([ffn_ir.hidden_dim] * 2)], scope=scope, outputs=2, axis=-1)
    gate = g.node("Clip", [gate, "", g.constant(limit, np.float32)], scope=scope)[0]
    up = g.op("Clip", up, g.constant(-limit, np.float32), g.constant(limit, np.float32), scope=scope)
    shifted = g.op("Add", up, g.constant(1.0, np.float32), scope=scope)
    hidden = g.op("Mul", gate_activation(gate, scope), shifted, scope=scope)
    return linear(g, weights, hidden, f"{prefix}.down_proj")
