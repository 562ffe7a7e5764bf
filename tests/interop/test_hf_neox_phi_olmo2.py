"""GPT-NeoX (Pythia), Phi (1.5/2) and OLMo 2 mappings, in memory (their end-to-end path —
import-hf, ONNX, `export --hf`, training — runs on their rows of families.py): random
transformers models with random biases and norm weights give their logits through the
converted weights, the tensor conversions are inverses, config.json round trips, the
options each family cannot express are named, older config.json keys are read, and the
example specs map onto their families. Nothing is downloaded."""

from __future__ import annotations

import pytest
import torch

from light_llm.compiler.build import build
from light_llm.interop.hf import (
    from_hf_state_dict,
    hf_config,
    hf_model_type,
    model_section_from_hf_config,
    to_hf_state_dict,
    unmappable_options,
)
from light_llm.models.transformer.config import TransformerConfig
from light_llm.models.transformer.lower import lower

transformers = pytest.importorskip("transformers")

VOCAB = 258
CONFIGS = {
    # Pythia's layout: parallel residual with two input norms, a quarter of each head rotated
    "gpt_neox-parallel-untied": lambda: transformers.GPTNeoXConfig(
        vocab_size=VOCAB, hidden_size=80, intermediate_size=192, num_hidden_layers=2,
        num_attention_heads=5, max_position_embeddings=64, rotary_pct=0.25, rotary_emb_base=500.0,
        tie_word_embeddings=False),
    "gpt_neox-sequential-tied-gelu_new-no-bias": lambda: transformers.GPTNeoXConfig(
        vocab_size=VOCAB, hidden_size=84, intermediate_size=200, num_hidden_layers=2,
        num_attention_heads=7, max_position_embeddings=64, rotary_pct=0.5, hidden_act="gelu_new",
        use_parallel_residual=False, attention_bias=False, tie_word_embeddings=True),
    "gpt_neox-gelu_fast": lambda: transformers.GPTNeoXConfig(
        vocab_size=VOCAB, hidden_size=48, intermediate_size=96, num_hidden_layers=1,
        num_attention_heads=3, max_position_embeddings=64, hidden_act="gelu_fast"),
    # RoPE scaling rules on a partial rotation (20-token prompts run past the original 4)
    "gpt_neox-yarn-partial": lambda: transformers.GPTNeoXConfig(
        vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
        num_attention_heads=2, max_position_embeddings=64, rope_parameters={
            "rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 4, "rope_theta": 500.0,
            "partial_rotary_factor": 0.5}),
    "phi-llama3-partial": lambda: transformers.PhiConfig(
        vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
        num_attention_heads=2, max_position_embeddings=64, rope_parameters={
            "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 4, "rope_theta": 500.0, "partial_rotary_factor": 0.5}),
    # Phi-2's layout: one shared input norm, 40% of each head rotated, lm_head with a bias
    "phi-untied": lambda: transformers.PhiConfig(
        vocab_size=VOCAB, hidden_size=80, intermediate_size=176, num_hidden_layers=2,
        num_attention_heads=5, max_position_embeddings=64, partial_rotary_factor=0.4, rope_theta=500.0,
        tie_word_embeddings=False),
    "phi-tied-one-kv-head-qk-layernorm": lambda: transformers.PhiConfig(
        vocab_size=VOCAB, hidden_size=84, intermediate_size=168, num_hidden_layers=2,
        num_attention_heads=7, num_key_value_heads=1, max_position_embeddings=64, qk_layernorm=True,
        tie_word_embeddings=True),
    # OLMo 2: RMSNorms on the sub-layer outputs only, QK RMSNorm over the whole projections
    "olmo2-untied-one-kv-head": lambda: transformers.Olmo2Config(
        vocab_size=VOCAB, hidden_size=60, intermediate_size=152, num_hidden_layers=2,
        num_attention_heads=5, num_key_value_heads=1, max_position_embeddings=64,
        rope_parameters={"rope_type": "default", "rope_theta": 500.0}, pad_token_id=1, eos_token_id=2,
        tie_word_embeddings=False),
    "olmo2-tied-gqa-bias": lambda: transformers.Olmo2Config(
        vocab_size=VOCAB, hidden_size=72, intermediate_size=160, num_hidden_layers=2,
        num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=64, attention_bias=True,
        rms_norm_eps=1e-6, pad_token_id=1, eos_token_id=2, tie_word_embeddings=True),
}


def random_hf_model(config, seed: int = 0) -> torch.nn.Module:
    """A randomly initialised transformers model; biases and norm weights (zeros and ones
    from transformers) made random, so that a dropped or swapped one shows."""
    torch.manual_seed(seed)
    config.initializer_range = 0.2  # logits far from zero, so a wrong import shows
    model = transformers.AutoModelForCausalLM.from_config(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.normal_(0.0, 0.2)
            elif parameter.ndim == 1:  # a norm's weight
                parameter.normal_(1.0, 0.2)
    return model


@pytest.mark.parametrize("case", CONFIGS)
def test_model_section_round_trips_through_hf_config(case):
    config = CONFIGS[case]().to_dict()
    section = model_section_from_hf_config(config)
    ir = lower(TransformerConfig.model_validate(section))
    assert hf_model_type(ir) == config["model_type"]
    assert lower(TransformerConfig.model_validate(model_section_from_hf_config(hf_config(ir)))) == ir


@pytest.mark.parametrize("case", CONFIGS)
def test_weights_of_a_transformers_model_give_its_logits(case):
    """In memory, without files: every config (gelu_fast included) — the converted weights
    in light_llm give transformers' fp32 logits."""
    config = CONFIGS[case]()
    theirs = random_hf_model(config)
    ir = lower(TransformerConfig.model_validate(model_section_from_hf_config(config.to_dict())))
    ours = build(ir, seed=1).eval()
    ours.load_state_dict(from_hf_state_dict(ir, theirs.state_dict()))
    tokens = torch.randint(0, VOCAB, (2, 20), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, actual = theirs(tokens).logits, ours(tokens)
    assert expected.abs().max() > 0.1
    assert (actual - expected).abs().max() < 1e-4


@pytest.mark.parametrize("case", CONFIGS)
def test_state_dict_round_trips_both_ways(case):
    """light_llm weights → HF names → back give the same tensors (the fused/per-head
    conversions are inverses)."""
    ir = lower(TransformerConfig.model_validate(model_section_from_hf_config(CONFIGS[case]().to_dict())))
    ours = build(ir, seed=0).state_dict()
    back = from_hf_state_dict(ir, to_hf_state_dict(ir, ours))
    assert set(back) == set(ours) - ({"lm_head.weight"} if ir.tie_embeddings else set()) or set(back) == set(ours)
    for name, tensor in back.items():
        assert torch.equal(tensor, ours[name]), name


NEOX = {"vocab_size": 64, "d_model": 48, "num_layers": 1, "max_seq_len": 16, "norm": {"type": "layernorm"},
        "attention": {"variant": "mha", "num_heads": 3, "bias": True},
        "ffn": {"variant": "mlp", "bias": True, "activation": "gelu"},
        "positional": {"rope_fraction": 0.25}, "parallel_layers": True, "parallel_norms": "separate"}


@pytest.mark.parametrize("change, blocker", [
    ({"parallel_norms": "shared"}, "model.parallel_norms='shared' (gpt_neox needs 'separate')"),
    ({"positional": {"rope_fraction": 0.25, "rope_pairing": "interleaved"}},
     "model.positional.rope_pairing='interleaved' (gpt_neox needs 'half')"),
    ({"attention": {"variant": "gqa", "num_heads": 3, "num_kv_heads": 1, "bias": True}},
     "model.attention.variant='gqa' (gpt_neox needs 'mha')"),
    ({"attention": {"variant": "mha", "num_heads": 3, "bias": "qkv"}},
     "model.attention.bias='qkv' (gpt_neox needs false or true)"),
    ({"attention": {"variant": "mha", "num_heads": 3, "head_dim": 8, "bias": True}},
     "model.attention.head_dim=8 (gpt_neox needs num_heads·head_dim = d_model = 48)"),
])
def test_gpt_neox_blockers_are_named(change, blocker):
    ir = lower(TransformerConfig.model_validate(NEOX | change))
    assert blocker in unmappable_options(ir)["gpt_neox"]
    assert not unmappable_options(lower(TransformerConfig.model_validate(NEOX)))["gpt_neox"]


def test_gpt_neox_legacy_and_new_rope_keys_read_alike():
    """Pythia's config.json (rotary_pct, rotary_emb_base; embed_out) and transformers 5's
    rope_parameters give the same positional section; the fraction defaults to 0.25."""
    base = {"model_type": "gpt_neox", "vocab_size": 64, "hidden_size": 48, "intermediate_size": 96,
            "num_hidden_layers": 1, "num_attention_heads": 3, "max_position_embeddings": 16}
    legacy = model_section_from_hf_config({**base, "rotary_pct": 0.5, "rotary_emb_base": 500.0,
                                           "rope_scaling": None})
    new = model_section_from_hf_config({**base, "rope_parameters": {
        "rope_type": "default", "rope_theta": 500.0, "partial_rotary_factor": 0.5}})
    assert legacy["positional"] == new["positional"] == {"encoding": "rope", "rope_base": 500.0,
                                                         "rope_fraction": 0.5}
    assert model_section_from_hf_config(base)["positional"]["rope_fraction"] == 0.25


PHI = NEOX | {"parallel_norms": "shared", "lm_head_bias": True}


@pytest.mark.parametrize("change, blocker", [
    ({"parallel_norms": "separate"}, "model.parallel_norms='separate' (phi needs 'shared')"),
    ({"parallel_layers": False, "parallel_norms": "shared"}, "model.parallel_layers=false (phi needs true)"),
    ({"lm_head_bias": False}, "model.lm_head_bias=false (phi needs true)"),
    ({"attention": {"variant": "mha", "num_heads": 3, "bias": "qkv"}},
     "model.attention.bias='qkv' (phi needs true)"),
    ({"attention": {"variant": "mha", "num_heads": 3, "bias": True, "qk_norm": "whole"}},
     "model.attention.qk_norm='whole' (phi needs 'none' or 'per_head')"),
    ({"norm": {"type": "rmsnorm"}}, "model.norm.type='rmsnorm' (phi needs 'layernorm')"),
])
def test_phi_blockers_are_named(change, blocker):
    ir = lower(TransformerConfig.model_validate(PHI | change))
    assert blocker in unmappable_options(ir)["phi"]
    assert not unmappable_options(lower(TransformerConfig.model_validate(PHI)))["phi"]


def test_phi_2_config_json_reads_its_top_level_rope_keys():
    """Phi-2's published config.json keeps partial_rotary_factor and rope_theta at the top."""
    config = {"model_type": "phi", "vocab_size": 64, "hidden_size": 80, "intermediate_size": 320,
              "num_hidden_layers": 1, "num_attention_heads": 5, "max_position_embeddings": 16,
              "partial_rotary_factor": 0.4, "rope_theta": 10000.0, "rope_scaling": None,
              "qk_layernorm": False, "hidden_act": "gelu_new"}
    section = model_section_from_hf_config(config)
    assert section["positional"] == {"encoding": "rope", "rope_base": 10000.0, "rope_fraction": 0.4}
    assert section["ffn"]["activation"] == "gelu_tanh" and section["lm_head_bias"] is True
    with pytest.raises(ValueError, match="head_dim=8"):
        model_section_from_hf_config({**config, "head_dim": 8})


OLMO2 = {"vocab_size": 64, "d_model": 48, "num_layers": 1, "max_seq_len": 16, "norm": {"placement": "output"},
         "attention": {"variant": "gqa", "num_heads": 3, "num_kv_heads": 1, "qk_norm": "whole"}}


@pytest.mark.parametrize("change, blocker", [
    ({"norm": {"placement": "pre"}}, "model.norm.placement='pre' (olmo2 needs 'output')"),
    ({"attention": {"variant": "gqa", "num_heads": 3, "num_kv_heads": 1, "qk_norm": "per_head"}},
     "model.attention.qk_norm='per_head' (olmo2 needs 'whole')"),
    ({"attention": {"variant": "gqa", "num_heads": 3, "num_kv_heads": 1, "qk_norm": "whole", "bias": "qkv"}},
     "model.attention.bias='qkv' (olmo2 needs false or true)"),
    ({"ffn": {"variant": "swiglu", "bias": True}}, "model.ffn.bias=true (olmo2 needs false)"),
    ({"norm": {"placement": "output", "type": "layernorm"}}, "model.norm.type='layernorm' (olmo2 needs 'rmsnorm')"),
])
def test_olmo2_blockers_are_named(change, blocker):
    ir = lower(TransformerConfig.model_validate(OLMO2 | change))
    assert blocker in unmappable_options(ir)["olmo2"]
    assert not unmappable_options(lower(TransformerConfig.model_validate(OLMO2)))["olmo2"]


@pytest.mark.parametrize("family", ["gpt_neox", "phi", "olmo2"])
def test_example_spec_maps_onto_its_family(family):
    from pathlib import Path

    from light_llm.compiler.pipeline import lower_spec
    from light_llm.schemas.load import load_spec

    path = Path(__file__).parents[2] / "examples" / "specs" / f"{family}.yaml"
    assert hf_model_type(lower_spec(load_spec(path))) == family
