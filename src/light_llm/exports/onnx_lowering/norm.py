"""Norms (the norm entries' ONNX lowerings, options.py) and the residual stream.

The stream keeps the last sub-layer output un-added ("pending"), so that in the fused form
the next norm takes residual + pending in one node of the entry's `onnx_skip`
(SkipSimplifiedLayerNormalization for RMSNorm, SkipLayerNormalization for LayerNorm),
which also returns the sum for the next residual. In the portable form (or for a norm with
no such node) the add is an Add. Portable RMSNorm is x / sqrt(mean(x²) + eps) · w (the
pattern onnxruntime fuses back into SimplifiedLayerNormalization).
"""

from __future__ import annotations

from light_llm.exports.onnx_lowering import options
from light_llm.exports.onnx_lowering.builder import MS_DOMAIN, GraphBuilder
from light_llm.exports.onnx_lowering.weights import Weights


def norm(g: GraphBuilder, weights: Weights, name: str, norm_ir, x: str) -> str:
    """The norm's lowering (its option-table entry) for the graph's form."""
    return options.norm(norm_ir.type, g.portable)(g, weights, name, norm_ir, x)


def _affine(g: GraphBuilder, weights: Weights, name: str) -> list[str]:
    """The norm's weight, and its bias where it has one."""
    return [g.initializer(f"{name}.{part}", weights.tensor(f"{name}.{part}"))
            for part in ("weight", "bias") if weights.has(f"{name}.{part}")]


def simplified_layer_norm(g: GraphBuilder, weights: Weights, name: str, norm_ir, x: str) -> str:
    """RMSNorm as onnxruntime's SimplifiedLayerNormalization."""
    return g.op("SimplifiedLayerNormalization", x, *_affine(g, weights, name), scope=f"/{name}", axis=-1,
                epsilon=norm_ir.eps)


def layer_norm(g: GraphBuilder, weights: Weights, name: str, norm_ir, x: str) -> str:
    """LayerNorm as LayerNormalization (a standard op since opset 17)."""
    return g.op("LayerNormalization", x, *_affine(g, weights, name), scope=f"/{name}", axis=-1,
                epsilon=norm_ir.eps)


def rms_norm(g: GraphBuilder, weights: Weights, name: str, norm_ir, x: str) -> str:
    """x / sqrt(mean(x²) + eps) · w in standard ops."""
    scope = f"/{name}"
    mean_square = g.op("ReduceMean", g.op("Mul", x, x, scope=scope), g.constant([-1]), scope=scope, keepdims=1)
    root = g.op("Sqrt", g.op("Add", mean_square, g.constant(norm_ir.eps, "float32"), scope=scope), scope=scope)
    return g.op("Mul", g.op("Div", x, root, scope=scope), *_affine(g, weights, name), scope=scope)


def skip_simplified_layer_norm(g: GraphBuilder, weights: Weights, name: str, norm_ir, x: str,
                               residual: str) -> tuple[str, str]:
    return _skip("SkipSimplifiedLayerNormalization", g, weights, name, norm_ir, x, residual)


def skip_layer_norm(g: GraphBuilder, weights: Weights, name: str, norm_ir, x: str,
                    residual: str) -> tuple[str, str]:
    return _skip("SkipLayerNormalization", g, weights, name, norm_ir, x, residual)


def _skip(op: str, g: GraphBuilder, weights: Weights, name: str, norm_ir, x: str,
          residual: str) -> tuple[str, str]:
    """(norm(x + residual), x + residual) in one com.microsoft node."""
    out, _, _, total = g.node(op, [x, residual, *_affine(g, weights, name)], scope=f"/{name}",
                              outputs=[None, "", "", None], domain=MS_DOMAIN, epsilon=norm_ir.eps)
    return out, total


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
        skip = options.skip_norm(norm_ir.type, self.g.portable)
        if skip is None:
            self._settle()
        if self.pending is None:
            return norm(self.g, self.weights, name, norm_ir, self.residual)
        out, self.residual = skip(self.g, self.weights, name, norm_ir, self.pending, self.residual)
        self.pending = None
        return out

    def replace(self, x: str) -> None:
        """Post-norm: the normed sum is the new residual."""
        self.residual, self.pending = x, None
