"""Gemma 3, text only (`Gemma3ForCausalLM`, model_type gemma3_text): Gemma 2's layout
(sandwich norms, query_pre_attn_scalar, `layer_types`) with an RMSNorm on each head's
queries and keys (`attention.qk_norm: per_head`, Gemma's 1 + w like every other norm), five
sliding layers to one global when config.json leaves layer_types out
(`sliding_window_pattern`, 6 by default), soft-caps off by default, and two RoPE bases:
the sliding layers rotate at rope_local_base_freq unscaled (`positional.sliding_rope_base`),
the global ones at rope_theta with the config's scaling. transformers 5 writes both as
`rope_parameters` per layer type; older configs as rope_theta, rope_scaling (global) and
rope_local_base_freq."""

from __future__ import annotations

from typing import Any

from pydantic import PositiveFloat, PositiveInt

from light_llm.interop.attention_needs import qk_norm
from light_llm.interop.hf.base import HFConfigError, Need
from light_llm.interop.hf.gemma2 import Gemma2, Gemma2Fields
from light_llm.interop.hf_layers import FULL, SLIDING
from light_llm.interop.hf_rope import layer_rope_parameters, positional_section
from light_llm.models.transformer.ir import PositionalIR, TransformerIR

GLOBAL_THETA, LOCAL_THETA = 1_000_000.0, 10_000.0  # transformers' Gemma3TextConfig defaults
SLIDING_WINDOW_PATTERN = 6  # every 6th layer global
FREED = ("model.attention.qk_norm", "model.positional.sliding_rope_base")


class Gemma3Fields(Gemma2Fields):
    max_position_embeddings: PositiveInt = 131_072
    attn_logit_softcapping: PositiveFloat | None = None
    final_logit_softcapping: PositiveFloat | None = None
    rope_local_base_freq: PositiveFloat = LOCAL_THETA
    sliding_window_pattern: PositiveInt = SLIDING_WINDOW_PATTERN


def layer_positionals(ir: TransformerIR) -> dict[str, PositionalIR]:
    """The RoPE of the global and of the sliding layers (the model's own where none slides)."""
    sliding = [b.attention.positional for b in ir.blocks if b.attention.mask_type == "sliding_window"]
    return {FULL: ir.positional, SLIDING: sliding[0] if sliding else ir.positional}


class Gemma3(Gemma2):
    model_type = "gemma3_text"
    hf_class = "Gemma3ForCausalLM"
    fields = Gemma3Fields
    needs = tuple(need for need in Gemma2.needs if need.path not in FREED) + (
        Need("model.attention.qk_norm", qk_norm, ("per_head",)),
    )

    def config_extra(self, ir: TransformerIR) -> dict[str, Any]:
        rope = layer_positionals(ir)
        return super().config_extra(ir) | {
            "rope_parameters": {kind: layer_rope_parameters(positional) for kind, positional in rope.items()},
            "rope_local_base_freq": rope[SLIDING].rope_base,  # read by transformers 4.x
            "use_bidirectional_attention": False,
        }

    def renames(self, ir: TransformerIR) -> list[tuple[str, str]]:
        return super().renames(ir) + [
            (f"blocks.{i}.attention.{norm}.weight", f"model.layers.{i}.self_attn.{norm}.weight")
            for i in range(ir.num_layers) for norm in ("q_norm", "k_norm")]

    def default_layer_types(self, fields: Gemma3Fields) -> list[str]:
        pattern = fields.sliding_window_pattern
        return [SLIDING if (i + 1) % pattern else FULL for i in range(fields.num_hidden_layers)]

    def model_section(self, fields: Gemma3Fields) -> dict[str, Any]:
        section = super().model_section(fields)
        section["attention"]["qk_norm"] = "per_head"
        section["positional"] = self.positional_from(fields, any(t == SLIDING for t in self.layer_types_of(fields)))
        return section

    def positional_from(self, fields: Gemma3Fields, has_sliding: bool) -> dict[str, Any]:
        full, sliding = self.rope_of_layer_types(fields)
        positional = positional_section(full, None)
        local = positional_section(sliding, None)
        if not has_sliding or local == positional:
            return positional
        if set(local) != {"encoding", "rope_base"}:
            raise HFConfigError(f"{self.model_type} config: rope_parameters.sliding_attention: scaled RoPE on the "
                                "sliding layers differing from the global ones has no light_llm mapping; "
                                "allowed: rope_type 'default' there")
        return positional | {"sliding_rope_base": local["rope_base"]}

    def rope_of_layer_types(self, fields: Gemma3Fields) -> tuple[dict[str, Any], dict[str, Any]]:
        """The global and the sliding layers' RoPE parameters, each with its rope_theta."""
        params = fields.rope_parameters or {}
        if FULL in params or SLIDING in params:
            full, sliding = params.get(FULL) or {}, params.get(SLIDING) or {}
        else:
            full, sliding = params or fields.rope_scaling or {}, {}
        return ({"rope_theta": fields.rope_theta or GLOBAL_THETA} | full,
                {"rope_theta": fields.rope_local_base_freq} | sliding)


ARCHITECTURE = Gemma3()
