"""OLMoE: Llama's pre-norm layout (`input_layernorm`, `post_attention_layernorm`) with an
RMSNorm over the whole Q and K projections before RoPE (`attention.qk_norm: whole`, as
OLMo 2; d_model divisible by num_heads), biases on all four attention projections or none,
and a mixture of SwiGLU experts (interop/hf_experts.py) of `intermediate_size` in every
layer; `norm_topk_prob` rescales the top-k probabilities. `clip_qkv` has no light_llm
equivalent and is refused."""

from __future__ import annotations

from typing import Any

from pydantic import NonNegativeFloat, PositiveFloat, PositiveInt

from light_llm.interop.attention_needs import bias_need, qk_norm
from light_llm.interop.hf.base import MASK, NO_FFN_BIAS, HFConfigError, Need, block, qk_norm_renames
from light_llm.interop.hf_experts import (
    EVERY_LAYER_SPARSE,
    MOE_NEEDS,
    NO_SHARED_EXPERTS,
    Experts,
    moe_section,
    sparse_ffn,
)
from light_llm.interop.hf.llama import LLAMA_NEEDS, Llama, LlamaFields
from light_llm.models.transformer.ir import TransformerIR


class OlmoeFields(LlamaFields):  # defaults: transformers' OlmoeConfig
    num_experts: PositiveInt = 64
    num_experts_per_tok: PositiveInt = 8
    norm_topk_prob: bool = False
    router_aux_loss_coef: NonNegativeFloat = 0.01
    clip_qkv: PositiveFloat | None = None


class Olmoe(Experts, Llama):
    model_type = "olmoe"
    hf_class = "OlmoeForCausalLM"
    fields = OlmoeFields
    heads_span_d_model = True  # config.json has no head_dim
    needs = LLAMA_NEEDS + (
        Need("model.attention.mask_type", MASK, ("causal",)),
        NO_FFN_BIAS,
        bias_need(False, True),
        Need("model.attention.qk_norm", qk_norm, ("whole",)),
        NO_SHARED_EXPERTS, EVERY_LAYER_SPARSE,
    ) + MOE_NEEDS

    def config_extra(self, ir: TransformerIR) -> dict[str, Any]:
        moe = sparse_ffn(ir).moe
        return {"attention_bias": block(ir).attention.bias, "num_experts": moe.experts,
                "num_experts_per_tok": moe.experts_per_token, "norm_topk_prob": moe.normalized,
                "router_aux_loss_coef": moe.aux_loss_coef, "clip_qkv": None}

    def renames(self, ir: TransformerIR) -> list[tuple[str, str]]:
        return super().renames(ir) + qk_norm_renames(ir)

    def model_section(self, fields: OlmoeFields) -> dict[str, Any]:
        if fields.clip_qkv is not None:
            raise HFConfigError(f"olmoe config: clip_qkv={fields.clip_qkv} (clamping Q, K and V) has no light_llm "
                                "equivalent; allowed: null")
        section = super().model_section(fields)
        section["attention"]["qk_norm"] = "whole"
        section["ffn"]["moe"] = moe_section(
            fields.num_experts, fields.num_experts_per_tok, fields.intermediate_size, fields.hidden_size,
            fields.norm_topk_prob, fields.router_aux_loss_coef, [True] * fields.num_hidden_layers)
        return section


ARCHITECTURE = Olmoe()
