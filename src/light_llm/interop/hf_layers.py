"""Per-layer attention kinds of a Hugging Face config (`layer_types`: sliding_attention /
full_attention, as Gemma 2 and Qwen2 write them) both ways with light_llm's
`attention.mask_type`, `window_size` and `attention.layer_pattern`. Not an architecture file."""

from __future__ import annotations

from typing import Any

from light_llm.interop.hf.base import HFConfigError
from light_llm.models.transformer.ir import TransformerIR

SLIDING, FULL = "sliding_attention", "full_attention"


def layer_types(ir: TransformerIR) -> list[str]:
    """config.json's `layer_types` for the IR's per-layer masks."""
    return [SLIDING if b.attention.mask_type == "sliding_window" else FULL for b in ir.blocks]


def alternating_layer_types(num_layers: int) -> list[str]:
    """transformers' layer_types where config.json leaves them out (Gemma 2, gpt-oss):
    alternating, sliding first."""
    return [SLIDING if i % 2 == 0 else FULL for i in range(num_layers)]


def checked_layer_types(model_type: str, types: list[str], num_layers: int) -> list[str]:
    """`types` as config.json's layer_types: one per layer, each sliding or full (else
    one line naming what is wrong)."""
    if len(types) != num_layers:
        raise HFConfigError(f"{model_type} config: layer_types has {len(types)} entries "
                            f"for num_hidden_layers={num_layers}; allowed: one per layer")
    unknown = sorted(set(types) - {SLIDING, FULL})
    if unknown:
        raise HFConfigError(f"{model_type} config: layer_types names {unknown[0]!r}; allowed: {SLIDING!r}, {FULL!r}")
    return types


def shortest_period(values: list[Any]) -> list[Any]:
    """The shortest prefix p with values[i] == p[i mod len(p)] for every i."""
    return next(values[:n] for n in range(1, len(values) + 1)
                if all(v == values[i % n] for i, v in enumerate(values)))


def mask_section(model_type: str, windowed: list[bool], window: int | None) -> dict[str, Any]:
    """The spec's attention mask fields for per-layer windowed flags: causal when no layer
    is windowed, sliding_window when all are, else a layer_pattern."""
    if not any(windowed):
        return {"mask_type": "causal"}
    if window is None:
        raise HFConfigError(f"{model_type} config: sliding_window=null with {sum(windowed)} sliding "
                            "layers; allowed: a window size (a positive integer)")
    section = {"mask_type": "sliding_window", "window_size": window}
    if all(windowed):
        return section
    pattern = shortest_period(["sliding_window" if w else "causal" for w in windowed])
    return section | {"layer_pattern": pattern}
