"""OLMo 2: Llama's attention, RoPE and SwiGLU with RMSNorms on the sub-layer outputs only
(`norm.placement: output`: post_attention_layernorm after attention,
post_feedforward_layernorm after the MLP, both before the residual add; no input norms)
and an RMSNorm over the whole Q and K projections before RoPE (`attention.qk_norm:
whole`: q_norm of size num_heads·head_dim, k_norm of num_kv_heads·head_dim, eps
rms_norm_eps). Biases on all four attention projections or none (`attention_bias`), none
in the MLP, which gates with silu (SwiGLU) or a gelu (GeGLU) as Llama's does."""

from __future__ import annotations

from typing import Any

from light_llm.interop.attention_needs import bias_need, qk_norm
from light_llm.interop.hf.base import MASK, NO_FFN_BIAS, PLACEMENT, Need, block
from light_llm.interop.hf.llama import LLAMA_NEEDS, Llama, LlamaFields
from light_llm.models.transformer.ir import TransformerIR

REPLACED = ("model.norm.placement",)  # Llama's needs that OLMo 2 sets otherwise
NORMS = (("attention_norm_out", "post_attention_layernorm"), ("ffn_norm_out", "post_feedforward_layernorm"))


class Olmo2(Llama):
    model_type = "olmo2"
    hf_class = "Olmo2ForCausalLM"
    fields = LlamaFields
    needs = tuple(need for need in LLAMA_NEEDS if need.path not in REPLACED) + (
        Need("model.norm.placement", PLACEMENT, ("output",)),
        Need("model.attention.mask_type", MASK, ("causal",)),
        NO_FFN_BIAS,
        bias_need(False, True),
        Need("model.attention.qk_norm", qk_norm, ("whole",)),
    )

    def config_extra(self, ir: TransformerIR) -> dict[str, Any]:
        return {"attention_bias": block(ir).attention.bias}

    def renames(self, ir: TransformerIR) -> list[tuple[str, str]]:
        pairs = [(ours, theirs) for ours, theirs in super().renames(ir) if "_norm_in." not in ours]
        for i in range(ir.num_layers):
            ours, theirs = f"blocks.{i}", f"model.layers.{i}"
            pairs += [(f"{ours}.{our}.weight", f"{theirs}.{their}.weight") for our, their in NORMS]
            pairs += [(f"{ours}.attention.{norm}.weight", f"{theirs}.self_attn.{norm}.weight")
                      for norm in ("q_norm", "k_norm")]
        return pairs

    def model_section(self, fields: LlamaFields) -> dict[str, Any]:
        section = super().model_section(fields)
        section["attention"]["qk_norm"] = "whole"
        section["norm"]["placement"] = "output"
        return section


ARCHITECTURE = Olmo2()
