"""Gemma 2: Gemma with sandwich norms (`norm.placement: sandwich`: input_layernorm and
pre_feedforward_layernorm before attention and FFN, post_attention_layernorm and
post_feedforward_layernorm on their outputs before the residual add), attention scale
query_pre_attn_scalar^-0.5 (`attention.scale`), attention and final logit soft-capping,
and a sliding window on the layers `layer_types` names sliding_attention (alternating,
sliding first, when config.json leaves it out) → `attention.layer_pattern`. One RoPE base
for every layer."""

from __future__ import annotations

import math
from typing import Any

from pydantic import PositiveFloat, PositiveInt

from light_llm.interop.hf.base import PLACEMENT, WINDOWED_MASK, Need, block, hf_activation
from light_llm.interop.hf.gemma import GEMMA_BASE_NEEDS, Gemma, GemmaFields, ffn_activation
from light_llm.interop.hf_layers import SLIDING, alternating_layer_types, checked_layer_types, layer_types, mask_section
from light_llm.models.transformer.ir import TransformerIR

SANDWICH = (("attention_norm_in", "input_layernorm"), ("attention_norm_out", "post_attention_layernorm"),
            ("ffn_norm_in", "pre_feedforward_layernorm"), ("ffn_norm_out", "post_feedforward_layernorm"))
FREE = ("model.norm.placement", "model.ffn.activation", "model.attention.scale", "model.attention.logit_softcap",
        "model.final_logit_softcap", "model.attention.layer_pattern", "model.attention.mask_type")


class Gemma2Fields(GemmaFields):
    hidden_activation: str = "gelu_pytorch_tanh"
    query_pre_attn_scalar: PositiveInt = 256
    sliding_window: PositiveInt | None = 4096
    layer_types: list[str] | None = None
    attn_logit_softcapping: PositiveFloat | None = 50.0
    final_logit_softcapping: PositiveFloat | None = 30.0


def query_pre_attn_scalar(ir: TransformerIR) -> int | None:
    """The integer s with s^-0.5 = the attention scale, or None where there is none."""
    scale = block(ir).attention.score_scale
    scalar = round(scale ** -2)
    return scalar if scalar >= 1 and math.isclose(scalar ** -0.5, scale, rel_tol=1e-9) else None


class Gemma2(Gemma):
    model_type = "gemma2"
    hf_class = "Gemma2ForCausalLM"
    fields = Gemma2Fields
    needs = tuple(need for need in GEMMA_BASE_NEEDS if need.path not in FREE) + (
        Need("model.norm.placement", PLACEMENT, ("sandwich",)),
        WINDOWED_MASK,
        Need("model.ffn.activation", ffn_activation, ("gelu_tanh", "gelu", "silu")),
    )

    def shape_problems(self, ir: TransformerIR) -> list[str]:
        heads = block(ir).attention.num_heads
        if ir.d_model % heads:  # Gemma2Config refuses it although head_dim is explicit
            return [f"model.attention.num_heads={heads} (gemma2 needs d_model={ir.d_model} divisible by num_heads)"]
        return []

    def blockers(self, ir: TransformerIR) -> list[str]:
        found = super().blockers(ir)
        if query_pre_attn_scalar(ir) is None:
            found.append(f"model.attention.scale={block(ir).attention.score_scale} (gemma2 needs "
                         "s^-0.5 for an integer query_pre_attn_scalar s)")
        return found

    def config(self, ir: TransformerIR) -> dict[str, Any]:
        config = super().config(ir)
        del config["hidden_act"]
        config["hidden_activation"] = hf_activation(block(ir).ffn.activation)
        return config

    def config_extra(self, ir: TransformerIR) -> dict[str, Any]:
        types = layer_types(ir)
        windows = {b.attention.window_size for b in ir.blocks} - {None}
        return super().config_extra(ir) | {
            "query_pre_attn_scalar": query_pre_attn_scalar(ir),
            "attn_logit_softcapping": block(ir).attention.logit_softcap,
            "final_logit_softcapping": ir.final_logit_softcap,
            "layer_types": types,
            # transformers builds the sliding mask even when no layer reads it
            "sliding_window": windows.pop() if windows else ir.max_seq_len,
        }

    def renames(self, ir: TransformerIR) -> list[tuple[str, str]]:
        pairs = [(ours, theirs) for ours, theirs in super().renames(ir) if "norm_in" not in ours]
        for i in range(ir.num_layers):
            pairs += [(f"blocks.{i}.{ours}.weight", f"model.layers.{i}.{theirs}.weight")
                      for ours, theirs in SANDWICH]
        return pairs

    def gate_activation(self, fields: Gemma2Fields) -> str:
        return fields.hidden_activation  # Gemma 2 reads only this one; "gelu" is exact GELU

    def model_section(self, fields: Gemma2Fields) -> dict[str, Any]:
        section = super().model_section(fields)
        section["norm"]["placement"] = "sandwich"
        head_dim = section["attention"]["head_dim"]
        if fields.query_pre_attn_scalar != head_dim:
            section["attention"]["scale"] = fields.query_pre_attn_scalar ** -0.5
        if fields.attn_logit_softcapping is not None:
            section["attention"]["logit_softcap"] = fields.attn_logit_softcapping
        if fields.final_logit_softcapping is not None:
            section["final_logit_softcap"] = fields.final_logit_softcapping
        return section

    def default_layer_types(self, fields: Gemma2Fields) -> list[str]:
        return alternating_layer_types(fields.num_hidden_layers)

    def layer_types_of(self, fields: Gemma2Fields) -> list[str]:
        types = fields.layer_types or self.default_layer_types(fields)
        return checked_layer_types(self.model_type, types, fields.num_hidden_layers)

    def mask_from(self, fields: Gemma2Fields) -> dict[str, Any]:
        windowed = [kind == SLIDING for kind in self.layer_types_of(fields)]
        return mask_section(self.model_type, windowed, fields.sliding_window)


ARCHITECTURE = Gemma2()
