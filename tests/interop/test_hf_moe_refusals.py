"""What the mixture-of-experts mappings refuse, each in one line: a dense architecture
refuses model.ffn.moe, an MoE family names the routing option it cannot express, and a
config.json that light_llm's ffn.moe cannot reproduce names its field. (The families
themselves, end to end against transformers: families.py rows in test_families.py.)"""

from __future__ import annotations

import pytest

from light_llm.interop.hf import HFConfigError, model_section_from_hf_config, unmappable_options
from light_llm.models.transformer.config import TransformerConfig
from light_llm.models.transformer.lower import lower


def moe_ir(**moe):
    return lower(TransformerConfig.model_validate(dict(
        vocab_size=40, d_model=32, num_layers=2, attention=dict(num_heads=4, num_kv_heads=1),
        ffn=dict(moe=dict(experts=4) | moe))))


def test_dense_architectures_refuse_a_mixture_and_mixtral_an_unnormalized_router():
    blockers = unmappable_options(moe_ir(normalize_topk=False))
    assert "model.ffn.moe (a mixture of experts; llama has a dense FFN)" in blockers["llama"]
    assert "model.ffn.moe.normalize_topk=false (mixtral needs true)" in blockers["mixtral"]
    assert blockers["qwen3_moe"] == ["model.attention.qk_norm='none' (qwen3_moe needs 'per_head')"]
    assert "model.ffn.moe (dense layers)=1 (olmoe needs 0)" in unmappable_options(moe_ir(first_dense_layers=1))["olmoe"]
    assert {"model.attention.sinks=false (gpt_oss needs true)", "model.ffn.variant='swiglu' (gpt_oss needs "
            "'clamped_swiglu')", "model.ffn.moe.router_bias=false (gpt_oss needs true)"} <= set(blockers["gpt_oss"])


BASE = dict(vocab_size=40, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=16)


@pytest.mark.parametrize("config, message", [
    (dict(BASE, model_type="olmoe", intermediate_size=16, clip_qkv=8.0), "clip_qkv=8.0"),
    (dict(BASE, model_type="qwen2_moe", intermediate_size=64, moe_intermediate_size=16,
          shared_expert_intermediate_size=24), "shared_expert_intermediate_size=24 is not a multiple"),
    (dict(BASE, model_type="qwen3_moe", intermediate_size=64, moe_intermediate_size=16, num_experts=4,
          num_experts_per_tok=2, mlp_only_layers=[1]), "dense layers [1] are not the first k layers"),
    (dict(BASE, model_type="gpt_oss", intermediate_size=16, head_dim=8, sliding_window=4,
          layer_types=["sliding_attention", "chunked_attention"]), "layer_types names 'chunked_attention'"),
    (dict(BASE, model_type="gpt_oss", intermediate_size=16, quantization_config={"quant_method": "mxfp4"}),
     "quantization_config (quant_method 'mxfp4'"),
])
def test_configs_ffn_moe_cannot_reproduce_are_refused_by_field(config, message):
    with pytest.raises(HFConfigError) as error:
        model_section_from_hf_config(config)
    assert message in str(error.value) and "\n" not in str(error.value)
