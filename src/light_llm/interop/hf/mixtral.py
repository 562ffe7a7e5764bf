"""Mixtral: Mistral's attention (a sliding window where `sliding_window` is set, no
biases) with a mixture of SwiGLU experts (interop/hf_experts.py) of `intermediate_size`
in every layer, the top-k probabilities always rescaled to sum to 1. Checkpoints name a
sparse layer `block_sparse_moe` and its experts' gate, up and down `w1`, `w3`, `w2`.
`router_jitter_noise` acts in training only and is not kept."""

from __future__ import annotations

from typing import Any

from pydantic import NonNegativeFloat, PositiveInt

from light_llm.interop.attention_needs import QK_NORM_OFF
from light_llm.interop.hf.base import NO_ATTENTION_BIAS, NO_FFN_BIAS, WINDOWED_MASK, block
from light_llm.interop.hf_experts import (
    EVERY_LAYER_SPARSE,
    MOE_NEEDS,
    NO_SHARED_EXPERTS,
    NORMALIZED,
    ExpertFiles,
    Experts,
    moe_section,
    sparse_ffn,
)
from light_llm.interop.hf.llama import LLAMA_NEEDS, LlamaFields
from light_llm.interop.hf.mistral import Mistral
from light_llm.models.transformer.ir import TransformerIR


class MixtralFields(LlamaFields):  # defaults: transformers' MixtralConfig
    num_local_experts: PositiveInt = 8
    num_experts_per_tok: PositiveInt = 2
    router_aux_loss_coef: NonNegativeFloat = 0.001


class Mixtral(Experts, Mistral):
    model_type = "mixtral"
    hf_class = "MixtralForCausalLM"
    fields = MixtralFields
    files = ExpertFiles("block_sparse_moe", ("w1", "w3", "w2"))
    needs = LLAMA_NEEDS + (
        WINDOWED_MASK,
        NO_ATTENTION_BIAS,
        NO_FFN_BIAS,
        QK_NORM_OFF, NO_SHARED_EXPERTS, EVERY_LAYER_SPARSE, NORMALIZED,
    ) + MOE_NEEDS

    def config_extra(self, ir: TransformerIR) -> dict[str, Any]:
        moe = sparse_ffn(ir).moe
        return {"sliding_window": block(ir).attention.window_size, "num_local_experts": moe.experts,
                "num_experts_per_tok": moe.experts_per_token, "router_aux_loss_coef": moe.aux_loss_coef}

    def model_section(self, fields: MixtralFields) -> dict[str, Any]:
        section = super().model_section(fields)
        section["ffn"]["moe"] = moe_section(
            fields.num_local_experts, fields.num_experts_per_tok, fields.intermediate_size, fields.hidden_size,
            True, fields.router_aux_loss_coef, [True] * fields.num_hidden_layers)
        return section


ARCHITECTURE = Mixtral()
