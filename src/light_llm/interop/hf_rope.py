"""RoPE parameters of a Hugging Face config (`rope_parameters`, or the older
`rope_scaling` with `rope_theta`) both ways, for the architectures that rotate the whole
head in half-split pairs (Llama, Mistral): default, linear, llama3 and yarn."""

from __future__ import annotations

from typing import Any

from light_llm.interop.hf.base import HFConfigError, Need
from light_llm.models.transformer.ir import PositionalIR, TransformerIR

WHOLE_HEAD_ROPE_NEEDS = (
    Need("model.positional.rope_fraction", lambda ir: ir.positional.rope_fraction, (1.0,)),
    Need("model.positional.rope_pairing", lambda ir: ir.positional.rope_pairing, ("half",)),
)
SUPPORTED = ("default", "linear", "llama3", "yarn")


def _layer_masks(ir: TransformerIR) -> list[str] | None:
    """Each layer's mask where layers differ (attention.layer_pattern), else None."""
    masks = [block.attention.mask_type for block in ir.blocks]
    return masks if len(set(masks)) > 1 else None


def _sliding_rope_base(ir: TransformerIR) -> float | None:
    bases = {block.attention.positional.rope_base for block in ir.blocks} - {ir.positional.rope_base}
    return bases.pop() if bases else None


def layer_encodings(ir: TransformerIR) -> list[str] | None:
    """Each layer's positional encoding where layers differ (positional.layer_pattern), else None."""
    encodings = [block.attention.positional.encoding for block in ir.blocks]
    return encodings if len(set(encodings)) > 1 else None


SAME_LAYERS_NEEDS = (
    Need("model.attention.layer_pattern", _layer_masks, (None,)),
    Need("model.positional.sliding_rope_base", _sliding_rope_base, (None,)),
    Need("model.positional.layer_pattern", layer_encodings, (None,)),
)
"""For architectures whose layers all attend alike: per-layer patterns are blockers."""
YARN_KEYS = ("beta_fast", "beta_slow", "attention_factor")


def rope_parameters(ir: TransformerIR) -> dict[str, Any]:
    """config.json's `rope_parameters` for the IR's rope."""
    return layer_rope_parameters(ir.positional)


def layer_rope_parameters(positional: PositionalIR) -> dict[str, Any]:
    """`rope_parameters` for one layer's rope (Gemma 3 writes one per layer type)."""
    base = {"rope_theta": positional.rope_base}
    rule = positional.rope_scaling_rule
    if rule is not None:
        params = {"rope_type": rule.type, "factor": rule.factor,
                  "original_max_position_embeddings": rule.original_max_position_embeddings}
        if rule.type == "llama3":
            params |= {"low_freq_factor": rule.low_freq_factor, "high_freq_factor": rule.high_freq_factor}
        else:
            params |= {key: getattr(rule, key) for key in YARN_KEYS} | {"truncate": rule.truncate}
        return params | base
    if positional.rope_scaling != 1.0:
        return {"rope_type": "linear", "factor": positional.rope_scaling} | base
    return {"rope_type": "default"} | base


def positional_section(rope: dict[str, Any], rope_theta: float | None) -> dict[str, Any]:
    """The spec's `positional` section for a config's RoPE parameters; an unknown rope_type
    or a yarn option light_llm does not take is an HFConfigError naming it."""
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope_type not in SUPPORTED:
        raise HFConfigError(
            f"rope_type {rope_type!r} has no light_llm equivalent; supported: {', '.join(SUPPORTED)}"
        )
    positional: dict[str, Any] = {"encoding": "rope",
                                  "rope_base": rope.get("rope_theta", rope_theta or 10000.0)}
    if rope_type == "linear":
        positional["rope_scaling"] = _required(rope, "factor")
    elif rope_type == "llama3":
        positional["rope_scaling"] = {
            "type": "llama3", "factor": _required(rope, "factor"),
            "original_max_position_embeddings": _required(rope, "original_max_position_embeddings"),
            "low_freq_factor": _required(rope, "low_freq_factor"), "high_freq_factor": _required(rope, "high_freq_factor"),
        }
    elif rope_type == "yarn":
        positional["rope_scaling"] = _yarn(rope)
    return positional


def _yarn(rope: dict[str, Any]) -> dict[str, Any]:
    section = {"type": "yarn", "factor": _required(rope, "factor"),
               "original_max_position_embeddings": _required(rope, "original_max_position_embeddings")}
    mscale, mscale_all_dim = rope.get("mscale"), rope.get("mscale_all_dim")
    attention = rope.get("attention_factor")
    if attention is None and mscale and mscale_all_dim:
        from light_llm.models.transformer.rope_scaling import yarn_mscale

        attention = yarn_mscale(_required(rope, "factor"), mscale) / yarn_mscale(_required(rope, "factor"), mscale_all_dim)
    for key, value in (("beta_fast", rope.get("beta_fast")), ("beta_slow", rope.get("beta_slow")),
                       ("attention_factor", attention)):
        if value is not None:
            section[key] = value
    truncate = rope.get("truncate", True)
    if not isinstance(truncate, bool):
        raise HFConfigError(f"rope_parameters.truncate: got {truncate!r}; allowed: true or false (yarn)")
    if not truncate:
        section["truncate"] = False
    return section


def _required(rope: dict[str, Any], key: str) -> Any:
    if rope.get(key) is None:
        rope_type = rope.get("rope_type", rope.get("type"))
        raise HFConfigError(f"rope_parameters.{key}: missing (rope_type {rope_type!r} needs it)")
    return rope[key]
