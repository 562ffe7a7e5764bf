"""RoPE of the Hugging Face families that rotate only part of each head (GPT-NeoX, Phi):
config.json's `rope_parameters` with `partial_rotary_factor` (transformers 5) or the
older top-level keys (GPT-NeoX `rotary_pct` / `rotary_emb_base`, Phi
`partial_rotary_factor` / `rope_theta`), both ways. Pairs are half-split in both
families (`rope_pairing: half`); the fraction is `positional.rope_fraction`."""

from __future__ import annotations

from typing import Any

from light_llm.interop.hf.base import Need
from light_llm.interop.hf_rope import positional_section, rope_parameters
from light_llm.models.transformer.ir import TransformerIR

HALF_PAIRS = Need("model.positional.rope_pairing", lambda ir: ir.positional.rope_pairing, ("half",))


def partial_rope_parameters(ir: TransformerIR) -> dict[str, Any]:
    """`rope_parameters` with the rotated fraction of each head."""
    return rope_parameters(ir) | {"partial_rotary_factor": ir.positional.rope_fraction}


def partial_positional_section(
    rope: dict[str, Any], rope_theta: float | None, fraction: float | None, default_fraction: float
) -> dict[str, Any]:
    """The spec's `positional` section: `rope` (rope_parameters or rope_scaling) first,
    then the top-level `rope_theta` / `fraction`, then the family's default fraction."""
    positional = positional_section(rope, rope_theta)
    rotated = rope.get("partial_rotary_factor", fraction if fraction is not None else default_fraction)
    return positional | ({"rope_fraction": rotated} if rotated != 1.0 else {})
