"""Granite: Llama's layout with four constant factors — `embedding_multiplier` on the token
embeddings (`model.embedding_scale`), `residual_multiplier` on each sub-layer's output
before the residual add (`model.residual_scale`), `attention_multiplier` as the score
factor in place of 1/√head_dim (`attention.scale`; 1.0 when config.json leaves it out,
as transformers does) and `logits_scaling` dividing the logits (`model.logit_divisor`)."""

from __future__ import annotations

from typing import Any

from pydantic import PositiveFloat

from light_llm.interop.hf.llama import Llama, LlamaFields
from light_llm.models.transformer.ir import TransformerIR

FACTORS = ("model.attention.scale", "model.embedding_scale", "model.residual_scale", "model.logit_divisor")


class GraniteFields(LlamaFields):
    embedding_multiplier: PositiveFloat = 1.0
    residual_multiplier: PositiveFloat = 1.0
    attention_multiplier: PositiveFloat = 1.0
    logits_scaling: PositiveFloat = 1.0


class Granite(Llama):
    model_type = "granite"
    hf_class = "GraniteForCausalLM"
    fields = GraniteFields
    needs = tuple(need for need in Llama.needs if need.path not in FACTORS)

    def config_extra(self, ir: TransformerIR) -> dict[str, Any]:
        attention = ir.blocks[0].attention
        return super().config_extra(ir) | {
            "embedding_multiplier": ir.embedding_scale,
            "residual_multiplier": ir.blocks[0].residual_scale,
            "attention_multiplier": attention.score_scale,
            "logits_scaling": ir.logit_divisor,
        }

    def model_section(self, fields: GraniteFields) -> dict[str, Any]:
        section = super().model_section(fields)
        section["attention"]["scale"] = fields.attention_multiplier
        return section | {"embedding_scale": fields.embedding_multiplier,
                          "residual_scale": fields.residual_multiplier,
                          "logit_divisor": fields.logits_scaling}


ARCHITECTURE = Granite()
