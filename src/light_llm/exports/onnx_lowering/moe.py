"""The mixture of experts (model.ffn.moe) in ONNX, both forms (x: [B, S, d_model]):

- portable, standard ops: router MatMul → the weights of the chosen k (TopK, Softmax) →
  a gate matrix G [B, S, E] zero outside them (ScatterElements) → Σₑ G[..., e]·expertₑ(x),
  every expert computed densely by its variant's own lowering (E times the active FLOPs,
  each a MatMul the int4 quantizer reads);
- fused: onnxruntime's com.microsoft MoE node, which runs only the chosen experts. Its CPU
  kernel gates with SwiGLU in the interleaved layout (swiglu_fusion=1) only:
  min(g, L)·σ(α·min(g, L))·(clamp(u, −L, L) + β), which is `swiglu` with α = 1, β = 0 and
  no limit, and `clamped_swiglu` with its α, L and β = 1 (gpt-oss); other FFN variants
  take the portable form. It applies softmax then top-k to its router input, and
  topk_softmax's weights equal normalised softmax_topk's (softmax is monotonic), so both
  routers map onto it.

The shared experts (and their sigmoid gate) are a dense FFN added in either form."""

from __future__ import annotations

import numpy as np

from light_llm.exports.onnx_lowering import options
from light_llm.exports.onnx_lowering.builder import MS_DOMAIN, GraphBuilder
from light_llm.exports.onnx_lowering.ffn import ffn
from light_llm.exports.onnx_lowering.linear import linear
from light_llm.exports.onnx_lowering.weights import Weights



def swiglu_gating(ffn_ir) -> dict:
    """The MoE node's attributes for `swiglu` experts (the option table's onnx_moe_gating)."""
    return dict(activation_alpha=1.0, activation_beta=0.0)


def portable_moe(g: GraphBuilder, weights: Weights, prefix: str, ffn_ir, x: str) -> str:
    scope = f"/{prefix}"
    gates = gate_matrix(g, linear(g, weights, x, f"{prefix}.router"), ffn_ir.moe, scope)
    total = None
    for index in range(ffn_ir.moe.experts):
        expert = ffn(g, weights, f"{prefix}.experts.{index}", ffn_ir.expert, x)
        gate = g.op("Gather", gates, g.constant([index]), scope=scope, axis=-1)  # [B, S, 1]
        weighted = g.op("Mul", expert, gate, scope=scope)
        total = weighted if total is None else g.op("Add", total, weighted, scope=scope)
    return with_shared(g, weights, prefix, ffn_ir, x, total)


def gate_matrix(g: GraphBuilder, logits: str, moe, scope: str) -> str:
    """[B, S, E]: each token's weight of its chosen experts, zero elsewhere."""
    k = g.constant([moe.experts_per_token])
    if moe.router == "topk_softmax":
        top, chosen = g.node("TopK", [logits, k], scope=scope, outputs=2, axis=-1)
        top = g.op("Softmax", top, scope=scope, axis=-1)
    else:
        top, chosen = g.node("TopK", [g.op("Softmax", logits, scope=scope, axis=-1), k], scope=scope,
                             outputs=2, axis=-1)
        if moe.normalize_topk:
            top = g.op("Div", top, g.op("ReduceSum", top, g.constant([-1]), scope=scope, keepdims=1), scope=scope)
    zeros = g.op("ConstantOfShape", g.op("Shape", logits, scope=scope), scope=scope)
    return g.op("ScatterElements", zeros, chosen, top, scope=scope, axis=-1)


def fused_moe(g: GraphBuilder, weights: Weights, prefix: str, ffn_ir, x: str) -> str:
    gating = options.moe_gating(ffn_ir.variant)
    if gating is None:
        return portable_moe(g, weights, prefix, ffn_ir, x)
    scope, moe = f"/{prefix}", ffn_ir.moe
    experts = [f"{prefix}.experts.{index}" for index in range(moe.experts)]
    # [E, 2·hidden, d_model], gate and up rows interleaved: g0, u0, g1, u1, …
    gate_up = np.stack([np.stack([weights.tensor(f"{e}.gate_proj.weight"), weights.tensor(f"{e}.up_proj.weight")],
                                 axis=1).reshape(-1, ffn_ir.d_model) for e in experts])
    down = np.stack([weights.tensor(f"{e}.down_proj.weight") for e in experts])
    logits = g.op("Reshape", linear(g, weights, x, f"{prefix}.router"), g.constant([-1, moe.experts]), scope=scope)
    inputs = [x, logits, g.initializer(f"{prefix}.experts.gate_up", gate_up),
              "", g.initializer(f"{prefix}.experts.down", down), ""]
    if ffn_ir.bias:
        gate_up_bias = np.stack([np.stack([weights.tensor(f"{e}.gate_proj.bias"), weights.tensor(f"{e}.up_proj.bias")],
                                          axis=1).reshape(-1) for e in experts])
        inputs[3] = g.initializer(f"{prefix}.experts.gate_up_bias", gate_up_bias)
        inputs[5] = g.initializer(f"{prefix}.experts.down_bias",
                                  np.stack([weights.tensor(f"{e}.down_proj.bias") for e in experts]))
    routed = g.declare_float(g.op(
        "MoE", *inputs, scope=scope, domain=MS_DOMAIN, k=moe.experts_per_token, activation_type="swiglu",
        swiglu_fusion=1, normalize_routing_weights=int(moe.normalized), **gating(ffn_ir)))
    return with_shared(g, weights, prefix, ffn_ir, x, routed)


def with_shared(g: GraphBuilder, weights: Weights, prefix: str, ffn_ir, x: str, routed: str) -> str:
    if ffn_ir.shared is None:
        return routed
    scope = f"/{prefix}"
    shared = ffn(g, weights, f"{prefix}.shared", ffn_ir.shared, x)
    if ffn_ir.moe.shared_expert_gate:
        gate = g.op("Sigmoid", linear(g, weights, x, f"{prefix}.shared_gate"), scope=scope)
        shared = g.op("Mul", shared, gate, scope=scope)
    return g.op("Add", routed, shared, scope=scope)
