"""Norms and the residual stream.

The stream keeps the last sub-layer output un-added ("pending"), so that the next norm
takes residual + pending in one SkipSimplifiedLayerNormalization (RMSNorm) or
SkipLayerNormalization (LayerNorm) node, which also returns the sum for the next residual.
With standard ops only, RMSNorm is x / sqrt(mean(x²) + eps) · w (the pattern onnxruntime
fuses back into SimplifiedLayerNormalization) and the add is an Add.
"""

from __future__ import annotations

from light_llm.exports.onnx_lowering.builder import MS_DOMAIN, GraphBuilder
from light_llm.exports.onnx_lowering.weights import Weights


def _norm_weights(g: GraphBuilder, weights: Weights, name: str, norm_ir) -> list[str]:
    gamma = [g.initializer(f"{name}.weight", weights.tensor(f"{name}.weight"))]
    if norm_ir.type == "layernorm":
        gamma.append(g.initializer(f"{name}.bias", weights.tensor(f"{name}.bias")))
    return gamma


def norm(g: GraphBuilder, weights: Weights, name: str, norm_ir, x: str) -> str:
    """RMSNorm → SimplifiedLayerNormalization; LayerNorm → LayerNormalization."""
    scope = f"/{name}"
    if norm_ir.type == "layernorm" or g.contrib:
        op = "SimplifiedLayerNormalization" if norm_ir.type == "rmsnorm" else "LayerNormalization"
        return g.op(op, x, *_norm_weights(g, weights, name, norm_ir), scope=scope, axis=-1, epsilon=norm_ir.eps)
    mean_square = g.op("ReduceMean", g.op("Mul", x, x, scope=scope), g.constant([-1]), scope=scope, keepdims=1)
    root = g.op("Sqrt", g.op("Add", mean_square, g.constant(norm_ir.eps, "float32"), scope=scope), scope=scope)
    return g.op("Mul", g.op("Div", x, root, scope=scope), *_norm_weights(g, weights, name, norm_ir), scope=scope)


class ResidualStream:
    def __init__(self, g: GraphBuilder, weights: Weights, x: str):
        self.g, self.weights = g, weights
        self.residual, self.pending = x, None

    def add(self, value: str) -> None:
        """residual += value (written when next read)."""
        self._settle()
        self.pending = value

    def value(self) -> str:
        self._settle()
        return self.residual

    def _settle(self) -> None:
        if self.pending is not None:
            self.residual = self.g.op("Add", self.residual, self.pending, scope="/residual")
            self.pending = None

    def normed(self, name: str, norm_ir) -> str:
        """norm(residual + pending); the sum becomes the residual."""
        if not self.g.contrib:
            self._settle()
        if self.pending is None:
            return norm(self.g, self.weights, name, norm_ir, self.residual)
        op = "SkipSimplifiedLayerNormalization" if norm_ir.type == "rmsnorm" else "SkipLayerNormalization"
        out, _, _, total = self.g.node(
            op, [self.pending, self.residual, *_norm_weights(self.g, self.weights, name, norm_ir)],
            scope=f"/{name}", outputs=[None, "", "", None], domain=MS_DOMAIN, epsilon=norm_ir.eps)
        self.residual, self.pending = total, None
        return out

    def replace(self, x: str) -> None:
        """Post-norm: the normed sum is the new residual."""
        self.residual, self.pending = x, None
