"""The activations of the option table in ONNX, each in its two forms: a com.microsoft op
where onnxruntime has one (fused), its formula in standard ops (portable).
Each is (g, x, scope) → output."""

from __future__ import annotations

import numpy as np

from light_llm.exports.onnx_lowering.builder import MS_DOMAIN, GraphBuilder


def relu(g: GraphBuilder, x: str, scope: str) -> str:
    return g.op("Relu", x, scope=scope)


def quick_gelu_silu(g: GraphBuilder, x: str, scope: str) -> str:
    """SiLU x·σ(x) is QuickGelu with alpha 1."""
    return g.op("QuickGelu", x, scope=scope, domain=MS_DOMAIN, alpha=1.0)


def silu(g: GraphBuilder, x: str, scope: str) -> str:
    return g.op("Mul", x, g.op("Sigmoid", x, scope=scope), scope=scope)


def contrib_gelu(g: GraphBuilder, x: str, scope: str) -> str:
    """onnxruntime's Gelu: the exact (erf) GELU."""
    return g.op("Gelu", x, scope=scope, domain=MS_DOMAIN)


def erf_gelu(g: GraphBuilder, x: str, scope: str) -> str:
    """0.5·x·(1 + erf(x/√2))."""
    erf = g.op("Erf", g.op("Mul", x, g.constant(1 / np.sqrt(2), np.float32), scope=scope), scope=scope)
    half_x = g.op("Mul", x, g.constant(0.5, np.float32), scope=scope)
    return g.op("Mul", half_x, g.op("Add", erf, g.constant(1.0, np.float32), scope=scope), scope=scope)


def fast_gelu(g: GraphBuilder, x: str, scope: str) -> str:
    """onnxruntime's FastGelu: the tanh GELU."""
    return g.op("FastGelu", x, scope=scope, domain=MS_DOMAIN)


def tanh_gelu(g: GraphBuilder, x: str, scope: str) -> str:
    """0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (opset 20's Gelu(approximate="tanh") is not
    in every opset light_llm exports)."""
    def f32(value: float) -> str:
        return g.constant(value, np.float32)

    cube = g.op("Mul", g.op("Mul", x, x, scope=scope), x, scope=scope)
    inner = g.op("Add", x, g.op("Mul", cube, f32(0.044715), scope=scope), scope=scope)
    tanh = g.op("Tanh", g.op("Mul", inner, f32(np.sqrt(2 / np.pi)), scope=scope), scope=scope)
    half_x = g.op("Mul", x, f32(0.5), scope=scope)
    return g.op("Mul", half_x, g.op("Add", tanh, f32(1.0), scope=scope), scope=scope)
