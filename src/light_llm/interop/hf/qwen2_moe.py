"""Qwen2-MoE (Qwen1.5-MoE): Qwen2's attention (biases on Q, K and V where `qkv_bias`, the
default) and Qwen3-MoE's sparse layers (interop/hf/qwen3_moe.py) plus a shared expert every
token passes through, scaled by sigmoid(x·w) (`ffn.moe.shared_experts` of them, each an
expert wide: `shared_expert_intermediate_size` must be a multiple of
`moe_intermediate_size`; `shared_expert_gate: true`). Its sliding window (every other
layer below `max_window_layers`) has no light_llm layout yet: `use_sliding_window` is refused."""

from __future__ import annotations

from typing import Any

from pydantic import NonNegativeInt, PositiveInt

from light_llm.interop.attention_needs import QK_NORM_OFF, bias_need
from light_llm.interop.hf.base import MASK, NO_FFN_BIAS, HFConfigError, Need, block
from light_llm.interop.hf_experts import MOE_NEEDS, Experts, sparse_ffn
from light_llm.interop.hf.llama import LLAMA_NEEDS
from light_llm.interop.hf.qwen2 import Qwen2
from light_llm.interop.hf.qwen3_moe import Qwen3MoeFields, moe_config, qwen_moe_section, without_dense_size
from light_llm.models.transformer.ir import TransformerIR


class Qwen2MoeFields(Qwen3MoeFields):  # defaults: transformers' Qwen2MoeConfig
    head_dim: PositiveInt | None = None
    qkv_bias: bool = True
    shared_expert_intermediate_size: PositiveInt = 5632
    sliding_window: NonNegativeInt | None = None  # 0 where use_sliding_window is false


def gated_shared_experts(ir: TransformerIR) -> bool:
    sparse = sparse_ffn(ir)
    return sparse is not None and sparse.moe.shared_experts >= 1 and sparse.moe.shared_expert_gate


class Qwen2Moe(Experts, Qwen2):
    model_type = "qwen2_moe"
    hf_class = "Qwen2MoeForCausalLM"
    fields = Qwen2MoeFields
    needs = LLAMA_NEEDS + (
        Need("model.attention.mask_type", MASK, ("causal",)),
        NO_FFN_BIAS,
        bias_need("qkv", False),
        QK_NORM_OFF,
        Need("model.ffn.moe.shared_experts ≥ 1 with shared_expert_gate", gated_shared_experts, (True,)),
    ) + MOE_NEEDS

    def config_extra(self, ir: TransformerIR) -> dict[str, Any]:
        sparse = sparse_ffn(ir)
        return {"qkv_bias": bool(block(ir).attention.bias), "use_sliding_window": False,
                "shared_expert_intermediate_size": sparse.shared.hidden_dim} | moe_config(ir)

    def model_section(self, fields: Qwen2MoeFields) -> dict[str, Any]:
        shared, remainder = divmod(fields.shared_expert_intermediate_size, fields.moe_intermediate_size)
        if remainder or not shared:
            raise HFConfigError(
                f"qwen2_moe config: shared_expert_intermediate_size={fields.shared_expert_intermediate_size} is not a "
                f"multiple of moe_intermediate_size={fields.moe_intermediate_size}: light_llm's shared experts are "
                "each an expert wide")
        section = super().model_section(without_dense_size(fields))
        section["attention"]["bias"] = "qkv" if fields.qkv_bias else False
        return qwen_moe_section(fields, section, {"shared_experts": shared, "shared_expert_gate": True})

    def mask_from(self, fields: Qwen2MoeFields) -> dict[str, Any]:
        if fields.use_sliding_window:
            raise HFConfigError("qwen2_moe config: use_sliding_window=true (a window on every other layer below "
                                "max_window_layers) has no light_llm layout; allowed: false")
        return {"mask_type": "causal"}


ARCHITECTURE = Qwen2Moe()
