"""Reference equivalence with Hugging Face `transformers` (random init, nothing downloaded):
our weights copied into the HF model give the same fp32 logits, and back."""

from __future__ import annotations

import pytest
import torch

from light_llm.compiler.build import build
from light_llm.models.transformer.lower import lower
from light_llm.interop.hf import (
    UnmappableSpec,
    from_hf_state_dict,
    hf_config,
    hf_model_type,
    model_section_from_hf_config,
    to_hf_state_dict,
    unmappable_options,
)
from light_llm.models.transformer.config import TransformerConfig

transformers = pytest.importorskip("transformers")

TINY = {"vocab_size": 97, "d_model": 64, "num_layers": 2, "max_seq_len": 32}
LLAMA = {**TINY, "attention": {"variant": "gqa", "num_heads": 4, "num_kv_heads": 2}}
GPT2 = {
    **TINY,
    "attention": {"variant": "mha", "num_heads": 4, "bias": True},
    "positional": {"encoding": "learned"},
    "ffn": {"variant": "mlp", "activation": "gelu", "bias": True, "expansion_factor": 4.0},
    "norm": {"type": "layernorm"},
}
MISTRAL = {**LLAMA, "attention": {**LLAMA["attention"], "mask_type": "sliding_window", "window_size": 5}}

CASES = {
    "llama-tied": (LLAMA, "llama"),
    "llama-untied": ({**LLAMA, "tie_embeddings": False}, "llama"),
    "llama-bias-geglu-rope-scaled": (
        {**LLAMA, "attention": {"variant": "mqa", "num_heads": 4, "bias": True},
         "ffn": {"variant": "geglu", "bias": True},
         "positional": {"encoding": "rope", "rope_base": 500.0, "rope_scaling": 2.0}},
        "llama",
    ),
    "gpt2-tied": (GPT2, "gpt2"),
    "gpt2-untied-relu": (
        {**GPT2, "tie_embeddings": False, "ffn": {**GPT2["ffn"], "activation": "relu"}}, "gpt2"
    ),
    "mistral-sliding-window": (MISTRAL, "mistral"),
    "qwen2-qkv-bias-one-kv-head-untied": (
        {**TINY, "d_model": 60, "attention": {"variant": "mqa", "num_heads": 5, "bias": "qkv"},
         "tie_embeddings": False}, "qwen2"),
    "qwen2-sliding-window-tied": (
        {**LLAMA, "attention": {**LLAMA["attention"], "bias": "qkv", "mask_type": "sliding_window",
                                "window_size": 5}}, "qwen2"),
    "qwen3-qk-norm-head-dim-tied": (
        {**TINY, "attention": {"variant": "mqa", "num_heads": 3, "head_dim": 16, "qk_norm": "per_head"},
         "norm": {"eps": 1e-6}}, "qwen3"),
    "qwen3-qk-norm-bias-untied": (
        {**LLAMA, "attention": {**LLAMA["attention"], "qk_norm": "per_head", "bias": True},
         "tie_embeddings": False}, "qwen3"),
    # 12-token prompts run past original_max_position_embeddings (4), where the rules act.
    "llama-llama3-rope": (
        {**LLAMA, "attention": {"variant": "mqa", "num_heads": 4},
         "positional": {"encoding": "rope", "rope_base": 500.0, "rope_scaling": {
             "type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
             "original_max_position_embeddings": 4}}},
        "llama",
    ),
    "llama-yarn-rope": (
        {**LLAMA, "tie_embeddings": False, "positional": {"encoding": "rope", "rope_base": 500.0, "rope_scaling": {
            "type": "yarn", "factor": 4.0, "original_max_position_embeddings": 4, "beta_fast": 16.0,
            "truncate": False}}},
        "llama",
    ),
    "qwen2-yarn-rope": (
        {**TINY, "d_model": 60, "attention": {"variant": "mqa", "num_heads": 5, "bias": "qkv"},
         "positional": {"encoding": "rope", "rope_scaling": {
             "type": "yarn", "factor": 4.0, "original_max_position_embeddings": 4, "beta_slow": 2.0}}},
        "qwen2",
    ),
    "mistral-yarn-rope": (
        {**MISTRAL, "positional": {"encoding": "rope", "rope_scaling": {
            "type": "yarn", "factor": 4.0, "original_max_position_embeddings": 4, "attention_factor": 1.5}}},
        "mistral",
    ),
}


def hf_model(config: dict) -> torch.nn.Module:
    hf = transformers.AutoConfig.for_model(**config)
    hf._attn_implementation = "eager"
    return transformers.AutoModelForCausalLM.from_config(hf).eval()


@pytest.mark.parametrize("case", CASES)
def test_logits_match_hugging_face_both_ways(case):
    model_section, expected_type = CASES[case]
    ir = lower(TransformerConfig.model_validate(model_section))
    assert hf_model_type(ir) == expected_type
    ours = build(ir, seed=0).eval()
    theirs = hf_model(hf_config(ir))
    assert type(theirs).__name__ == hf_config(ir)["architectures"][0]

    missing, unexpected = theirs.load_state_dict(to_hf_state_dict(ir, ours.state_dict()), strict=False)
    assert not unexpected and not [name for name in missing if not name.endswith("lm_head.weight")]
    tokens = torch.randint(0, ir.vocab_size, (2, 12), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = ours(tokens)
        actual = theirs(tokens).logits
    assert (actual - expected).abs().max() < 1e-5
    assert expected.abs().max() > 1e-3  # not a trivially zero model

    # And back: a freshly initialised HF model loaded into light_llm.
    fresh = hf_model(hf_config(ir))
    back = build(ir, seed=1).eval()
    back.load_state_dict(from_hf_state_dict(ir, fresh.state_dict()))
    with torch.no_grad():
        assert (back(tokens) - fresh(tokens).logits).abs().max() < 1e-5


def test_sliding_window_differs_from_causal_in_hugging_face():
    """Guards the Mistral case above: with a window shorter than the prompt, the HF model
    with the window removed gives different logits, so the mapping of the window matters."""
    ir = lower(TransformerConfig.model_validate(MISTRAL))
    ours = build(ir, seed=0).eval()
    unwindowed = hf_model({**hf_config(ir), "sliding_window": None})
    unwindowed.load_state_dict(to_hf_state_dict(ir, ours.state_dict()), strict=False)
    tokens = torch.randint(0, ir.vocab_size, (1, 12), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert (unwindowed(tokens).logits - ours(tokens)).abs().max() > 1e-4


@pytest.mark.parametrize("case", CASES)
def test_model_section_round_trips_through_hf_config(case):
    ir = lower(TransformerConfig.model_validate(CASES[case][0]))
    section = model_section_from_hf_config(hf_config(ir))
    again = lower(TransformerConfig.model_validate(section))
    assert again == ir


def test_every_blocking_option_is_named():
    ir = lower(TransformerConfig.model_validate({
        **TINY,
        "attention": {"variant": "complex", "num_heads": 4, "mask_type": "bidirectional"},
        "norm": {"placement": "sandwich"},
        "parallel_layers": True,
        "positional": {"encoding": "alibi"},
    }))
    reasons = unmappable_options(ir)
    assert hf_model_type(ir) is None
    llama = "\n".join(reasons["llama"])
    for option in ("model.attention.variant='complex'", "model.attention.mask_type='bidirectional'",
                   "model.norm.placement='sandwich'", "model.parallel_layers=true",
                   "model.positional.encoding='alibi'"):
        assert option in llama
    assert any("model.norm.type='rmsnorm' (gpt2 needs 'layernorm')" == r for r in reasons["gpt2"])
    with pytest.raises(UnmappableSpec, match="model.parallel_layers=true"):
        hf_config(ir)


@pytest.mark.parametrize("options, blocker", [
    ({"attention": {"bias": "qkv", "num_heads": 4}}, "model.attention.bias='qkv' (llama needs false or true)"),
    ({"attention": {"qk_norm": "whole", "num_heads": 4}}, "model.attention.qk_norm='whole' (llama needs 'none')"),
    ({"attention": {"scale": 0.5, "num_heads": 4}}, "model.attention.scale=0.5 (llama needs 'auto')"),
    ({"attention": {"logit_softcap": 50.0, "num_heads": 4}}, "model.attention.logit_softcap=50.0 (llama needs none)"),
    ({"final_logit_softcap": 30.0}, "model.final_logit_softcap=30.0 (llama needs none)"),
    ({"attention": {"sinks": True, "num_heads": 4}}, "model.attention.sinks=true (llama needs false)"),
    ({"embedding_scale": "sqrt_d_model"}, "model.embedding_scale=8.0 (llama needs 1.0)"),
])
def test_attention_options_without_a_family_are_blockers(options, blocker):
    ir = lower(TransformerConfig.model_validate({**TINY, **options}))
    reasons = unmappable_options(ir)
    assert blocker in reasons["llama"]
    assert all(reasons[name] for name in ("llama", "mistral", "gpt2"))


def test_qwen2_mixed_sliding_layers_become_a_layer_pattern():
    config = {"model_type": "qwen2", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 88,
              "num_hidden_layers": 4, "num_attention_heads": 4, "max_position_embeddings": 16,
              "use_sliding_window": True, "sliding_window": 8, "max_window_layers": 2}
    assert model_section_from_hf_config(config)["attention"]["layer_pattern"] == [
        "causal", "causal", "sliding_window", "sliding_window"]
    assert model_section_from_hf_config({**config, "max_window_layers": 4})["attention"]["mask_type"] == "causal"
    assert model_section_from_hf_config({**config, "max_window_layers": 0})["attention"]["window_size"] == 8


def test_head_dim_not_matching_d_model_blocks_gpt2():
    ir = lower(TransformerConfig.model_validate({**GPT2, "attention": {**GPT2["attention"], "head_dim": 8}}))
    assert any("model.attention.head_dim=8" in r for r in unmappable_options(ir)["gpt2"])
    assert hf_model_type(ir) is None


def test_gpt2_default_activation_imports_as_gelu_tanh():
    config = {"model_type": "gpt2", "vocab_size": 10, "n_embd": 8, "n_head": 2, "n_layer": 1,
              "n_positions": 8}  # activation_function left out: GPT-2's default, gelu_new
    assert model_section_from_hf_config(config)["ffn"]["activation"] == "gelu_tanh"
    with pytest.raises(ValueError, match="'quick_gelu' has no light_llm equivalent"):
        model_section_from_hf_config({**config, "activation_function": "quick_gelu"})


def test_llama3_scaling_changes_hugging_face_logits():
    """Guards the llama3 case above: the same HF model without the rule gives other logits."""
    ir = lower(TransformerConfig.model_validate(CASES["llama-llama3-rope"][0]))
    ours = build(ir, seed=0).eval()
    unscaled = hf_model({**hf_config(ir), "rope_parameters": {"rope_type": "default", "rope_theta": 500.0}})
    unscaled.load_state_dict(to_hf_state_dict(ir, ours.state_dict()), strict=False)
    tokens = torch.randint(0, ir.vocab_size, (1, 12), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert (unscaled(tokens).logits - ours(tokens)).abs().max() > 1e-4


def test_yarn_mscale_pair_becomes_the_attention_factor():
    config = {**hf_config(lower(TransformerConfig.model_validate(CASES["llama-yarn-rope"][0])))}
    config["rope_parameters"] = {"rope_type": "yarn", "rope_theta": 500.0, "factor": 4.0,
                                 "original_max_position_embeddings": 4, "mscale": 2.0, "mscale_all_dim": 1.0}
    section = model_section_from_hf_config(config)
    hf = transformers.AutoConfig.for_model(**config)
    _, expected = transformers.modeling_rope_utils.ROPE_INIT_FUNCTIONS["yarn"](hf, "cpu")
    assert section["positional"]["rope_scaling"]["attention_factor"] == pytest.approx(expected)


@pytest.mark.parametrize("rope, words", [
    ({"rope_type": "longrope", "factor": 4.0}, ["'longrope'", "llama3", "yarn"]),
    ({"rope_type": "llama3", "factor": 8.0, "original_max_position_embeddings": 4},
     ["rope_parameters.low_freq_factor", "missing"]),
    ({"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 4, "truncate": "no"},
     ["rope_parameters.truncate", "'no'"]),
])
def test_unsupported_rope_parameters_are_named(rope, words):
    config = {**hf_config(lower(TransformerConfig.model_validate(LLAMA))), "rope_parameters": rope}
    with pytest.raises(ValueError) as caught:
        model_section_from_hf_config(config)
    assert all(word in str(caught.value) for word in words)


def test_partial_rotary_and_interleaved_pairs_block_llama():
    ir = lower(TransformerConfig.model_validate(
        {**LLAMA, "positional": {"rope_fraction": 0.5, "rope_pairing": "interleaved"}}))
    llama = unmappable_options(ir)["llama"]
    assert "model.positional.rope_fraction=0.5 (llama needs 1.0)" in llama
    assert "model.positional.rope_pairing='interleaved' (llama needs 'half')" in llama


@pytest.mark.parametrize("pattern", [["sliding_window", "causal"], ["causal", "sliding_window"]])
def test_per_layer_patterns_block_every_architecture(pattern):
    """Llama, Mistral and GPT-2 attend alike in every layer: a layer pattern (whichever
    layer comes first) and a second RoPE base are named blockers."""
    ir = lower(TransformerConfig.model_validate({**MISTRAL, "attention": {
        **MISTRAL["attention"], "layer_pattern": pattern}, "positional": {"sliding_rope_base": 100.0}}))
    reasons = unmappable_options(ir)
    assert hf_model_type(ir) is None
    for name in ("llama", "mistral", "gpt2"):
        assert any(r.startswith("model.attention.layer_pattern=[") for r in reasons[name]), name
    assert "model.positional.sliding_rope_base=100.0 (mistral needs none)" in reasons["mistral"]
