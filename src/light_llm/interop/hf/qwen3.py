"""Qwen3: Qwen2's layout with an RMSNorm on each head of Q and K before RoPE
(`attention.qk_norm: per_head`, `q_norm` / `k_norm` of size head_dim, eps rms_norm_eps),
an explicit head_dim (128 when config.json leaves it out, as transformers does) and
`attention_bias` on all four projections or none."""

from __future__ import annotations

from typing import Any

from pydantic import PositiveInt

from light_llm.interop.attention_needs import bias_need, qk_norm
from light_llm.interop.hf.base import NO_FFN_BIAS, WINDOWED_MASK, Need, block, qk_norm_renames
from light_llm.interop.hf.qwen2 import PER_LAYER_NEEDS, Qwen2, Qwen2Fields
from light_llm.models.transformer.ir import TransformerIR

QWEN3_HEAD_DIM = 128  # transformers' Qwen3Config default


class Qwen3Fields(Qwen2Fields):
    head_dim: PositiveInt = QWEN3_HEAD_DIM


class Qwen3(Qwen2):
    model_type = "qwen3"
    hf_class = "Qwen3ForCausalLM"
    fields = Qwen3Fields
    needs = PER_LAYER_NEEDS + (
        WINDOWED_MASK,
        NO_FFN_BIAS,
        bias_need(False, True),
        Need("model.attention.qk_norm", qk_norm, ("per_head",)),
    )

    def shape_problems(self, ir: TransformerIR) -> list[str]:
        return []  # head_dim is explicit: num_heads need not divide d_model

    def config_extra(self, ir: TransformerIR) -> dict[str, Any]:
        return super().config_extra(ir) | {"attention_bias": block(ir).attention.bias}

    def renames(self, ir: TransformerIR) -> list[tuple[str, str]]:
        return super().renames(ir) + qk_norm_renames(ir)

    def model_section(self, fields: Qwen3Fields) -> dict[str, Any]:
        section = super().model_section(fields)
        section["attention"] |= {"bias": fields.attention_bias, "qk_norm": "per_head"}
        return section


ARCHITECTURE = Qwen3()
