"""The option tables' ONNX lowerings (models/transformer/options.py), resolved for the
graph's form: every option reaches the graph through its entry, never through its name.
An option whose entry declares no lowering for a role it has is refused, by name."""

from __future__ import annotations

from typing import Any

from light_llm.errors import ExportError
from light_llm.models.transformer.options import (
    ACTIVATIONS,
    ATTENTION_KERNELS,
    FFN_VARIANTS,
    MIXTURE_OF_EXPERTS,
    NORMS,
    POSITIONAL_ENCODINGS,
    ONNXLowering,
    PositionalEncoding,
    entry,
    resolve_path,
)


def _resolved(lowering: ONNXLowering | None, portable: bool, what: str) -> Any:
    if lowering is None:
        raise ExportError(f"{what} has no ONNX lowering: its entry in models/transformer/options.py "
                          f"declares none")
    return resolve_path(lowering.path(portable))


def activation(name: str, portable: bool) -> Any:
    return _resolved(entry(ACTIVATIONS, name, "activation").onnx, portable, f"activation {name!r}")


def ffn(variant: str, portable: bool) -> Any:
    return _resolved(entry(FFN_VARIANTS, variant, "FFN variant").onnx, portable, f"FFN variant {variant!r}")


def mixture_of_experts(portable: bool) -> Any:
    return _resolved(MIXTURE_OF_EXPERTS.onnx, portable, "the mixture of experts")


def moe_gating(variant: str) -> Any | None:
    """(FFNIR) → the MoE node's activation attributes for experts of `variant`; None where
    onnxruntime's MoE node cannot compute the variant (its experts take the portable form)."""
    path = entry(FFN_VARIANTS, variant, "FFN variant").onnx_moe_gating
    return None if path is None else resolve_path(path)


def norm(type_: str, portable: bool) -> Any:
    return _resolved(entry(NORMS, type_, "norm").onnx, portable, f"norm {type_!r}")


def skip_norm(type_: str, portable: bool) -> Any | None:
    """The fused form's residual add + norm in one node (None: portable, or none declared)."""
    path = entry(NORMS, type_, "norm").onnx_skip
    return None if portable or path is None else resolve_path(path)


def attention(kernel: str, portable: bool) -> Any:
    return _resolved(entry(ATTENTION_KERNELS, kernel, "attention kernel").onnx, portable,
                     f"attention kernel {kernel!r}")


def _encoding(name: str) -> PositionalEncoding:
    return entry(POSITIONAL_ENCODINGS, name, "positional encoding")


def _role(name: str, role: str, portable: bool) -> Any | None:
    """The encoding's ONNX lowering of `role` (None where it has no such eager module)."""
    encoding = _encoding(name)
    if getattr(encoding, role) is None:
        return None
    return _resolved(getattr(encoding, f"onnx_{role}"), portable, f"positional encoding {name!r} ({role})")


def position_embedding(encoding: str, portable: bool) -> Any | None:
    return _role(encoding, "embedding", portable)


def rotation(encoding: str, portable: bool) -> Any | None:
    return _role(encoding, "rotation", portable)


def score_bias(encoding: str, portable: bool) -> Any | None:
    return _role(encoding, "score_bias", portable)


def biases_scores(encoding: str) -> bool:
    return _encoding(encoding).score_bias is not None
