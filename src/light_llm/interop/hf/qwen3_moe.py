"""Qwen3-MoE: Qwen3's attention (RMSNorm on each head of Q and K, an explicit head_dim,
`attention_bias` on all four projections or none) with a mixture of experts
(interop/hf_experts.py) in the layers that are not in `mlp_only_layers` and whose number
(from 1) `decoder_sparse_step` divides; the others keep a dense SwiGLU of
`intermediate_size`. Experts are `moe_intermediate_size` wide; `norm_topk_prob` rescales
the top-k probabilities. Its sliding window, where `use_sliding_window`, is on every layer."""

from __future__ import annotations

from typing import Any

from pydantic import NonNegativeFloat, NonNegativeInt, PositiveInt

from light_llm.interop.attention_needs import bias_need, qk_norm
from light_llm.interop.hf.base import NO_FFN_BIAS, WINDOWED_MASK, Need, block
from light_llm.interop.hf_experts import MOE_NEEDS, NO_SHARED_EXPERTS, Experts, dense_layers, moe_section, sparse_ffn
from light_llm.interop.hf.llama import LLAMA_NEEDS
from light_llm.interop.hf.qwen3 import Qwen3, Qwen3Fields
from light_llm.models.transformer.ir import TransformerIR


QWEN_MOE_EXPERTS = 128  # transformers' Qwen3MoeConfig default


class Qwen3MoeFields(Qwen3Fields):  # defaults: transformers' Qwen3MoeConfig
    num_experts: PositiveInt | None = None  # released checkpoints' name
    num_local_experts: PositiveInt | None = None  # transformers 5 writes this one
    num_experts_per_tok: PositiveInt = 8
    moe_intermediate_size: PositiveInt = 768
    norm_topk_prob: bool = False
    decoder_sparse_step: PositiveInt = 1
    mlp_only_layers: list[NonNegativeInt] | None = None
    router_aux_loss_coef: NonNegativeFloat = 0.001

    @property
    def experts(self) -> int:
        return self.num_local_experts or self.num_experts or QWEN_MOE_EXPERTS


def moe_config(ir: TransformerIR) -> dict[str, Any]:
    """The Qwen-MoE fields of config.json (dense layers listed in mlp_only_layers)."""
    sparse, dense = sparse_ffn(ir), dense_layers(ir)
    return {"num_experts": sparse.moe.experts, "num_experts_per_tok": sparse.moe.experts_per_token,
            "moe_intermediate_size": sparse.hidden_dim, "norm_topk_prob": sparse.moe.normalized,
            "decoder_sparse_step": 1, "mlp_only_layers": dense,
            "intermediate_size": ir.blocks[dense[0]].ffn.hidden_dim if dense else sparse.hidden_dim,
            "router_aux_loss_coef": sparse.moe.aux_loss_coef}


def qwen_moe_section(fields: Qwen3MoeFields, section: dict[str, Any], shared: dict | None = None) -> dict[str, Any]:
    layers = range(fields.num_hidden_layers)
    only_dense = set(fields.mlp_only_layers or ())
    sparse = [i not in only_dense and (i + 1) % fields.decoder_sparse_step == 0 for i in layers]
    section["ffn"]["moe"] = moe_section(
        fields.experts, fields.num_experts_per_tok, fields.moe_intermediate_size, fields.hidden_size,
        fields.norm_topk_prob, fields.router_aux_loss_coef, sparse, fields.decoder_sparse_step, shared)
    return section


def without_dense_size(fields: Qwen3MoeFields) -> Qwen3MoeFields:
    """Where every layer is sparse, intermediate_size sizes nothing: the experts' size stands in."""
    dense = {i for i in range(fields.num_hidden_layers)
             if i in set(fields.mlp_only_layers or ()) or (i + 1) % fields.decoder_sparse_step}
    return fields if dense else fields.model_copy(update={"intermediate_size": fields.moe_intermediate_size})


class Qwen3Moe(Experts, Qwen3):
    model_type = "qwen3_moe"
    hf_class = "Qwen3MoeForCausalLM"
    fields = Qwen3MoeFields
    needs = LLAMA_NEEDS + (
        WINDOWED_MASK,
        NO_FFN_BIAS,
        bias_need(False, True),
        Need("model.attention.qk_norm", qk_norm, ("per_head",)),
        NO_SHARED_EXPERTS,
    ) + MOE_NEEDS

    def config_extra(self, ir: TransformerIR) -> dict[str, Any]:
        window = block(ir).attention.window_size
        return {"attention_bias": block(ir).attention.bias, "use_sliding_window": window is not None,
                "sliding_window": window} | moe_config(ir)

    def model_section(self, fields: Qwen3MoeFields) -> dict[str, Any]:
        return qwen_moe_section(fields, super().model_section(without_dense_size(fields)))

    def mask_from(self, fields: Qwen3MoeFields) -> dict[str, Any]:
        if not fields.use_sliding_window or fields.sliding_window is None:
            return {"mask_type": "causal"}
        return {"mask_type": "sliding_window", "window_size": fields.sliding_window}


ARCHITECTURE = Qwen3Moe()
