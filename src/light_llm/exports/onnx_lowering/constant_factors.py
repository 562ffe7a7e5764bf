"""The model's constant factors in ONNX (models/transformer/constant_factors.py): a Mul
or a Div by a float constant, nothing where the factor is 1."""

from __future__ import annotations

import numpy as np

from light_llm.exports.onnx_lowering.builder import GraphBuilder


def scaled(g: GraphBuilder, x: str, scale: float, scope: str) -> str:
    return x if scale == 1.0 else g.op("Mul", x, g.constant(scale, np.float32), scope=scope)


def divided(g: GraphBuilder, x: str, divisor: float, scope: str) -> str:
    return x if divisor == 1.0 else g.op("Div", x, g.constant(divisor, np.float32), scope=scope)
