"""Gemma, Gemma 2, Gemma 3 and per-layer sliding windows (Qwen2, Ministral) against `transformers`
(random weights, nothing downloaded): logits both ways, config.json both ways, import-hf →
ONNX → `export --hf` round trip, and what cannot be expressed. Their rows of
tests/interop/families.py add the shared end-to-end checks (training included).

transformers initialises Gemma's RMSNorm offsets to zero, so every test perturbs the norm
weights first: a wrong 1 + w conversion then changes the logits."""

from __future__ import annotations

import json

import pytest
import torch

from onnx_vs_transformers import assert_onnx_equals_transformers, left_padded_prompts

from light_llm.compiler.build import build
from light_llm.exports.hf import export_hf
from light_llm.exports.onnx import export_onnx
from light_llm.import_hf import import_hf
from light_llm.interop.hf import (
    HFConfigError,
    from_hf_state_dict,
    hf_config,
    hf_model_type,
    model_section_from_hf_config,
    to_hf_state_dict,
    unmappable_options,
)
from light_llm.model_folder import load_model_folder
from light_llm.models.transformer.config import TransformerConfig
from light_llm.models.transformer.lower import lower
from light_llm.tokenizer import byte_tokenizer

transformers = pytest.importorskip("transformers")

# Odd head counts, one KV head, head_dim not d_model / num_heads.
ODD = {"vocab_size": 258, "d_model": 60, "num_layers": 3, "max_seq_len": 32,
       "attention": {"variant": "mqa", "num_heads": 5, "head_dim": 16},
       "ffn": {"variant": "geglu", "activation": "gelu_tanh"},
       "embedding_scale": "sqrt_d_model", "norm": {"eps": 1e-6}, "init_std": 0.2}  # softcaps act
GEMMA2 = {**ODD, "attention": {**ODD["attention"], "mask_type": "sliding_window", "window_size": 5,
                               "layer_pattern": ["sliding_window", "causal"], "scale": 0.1,
                               "logit_softcap": 2.0},
          "final_logit_softcap": 3.0, "norm": {"eps": 1e-6, "placement": "sandwich"}}
# Gemma 3: 5 sliding to 1 global (7 layers: the pattern repeats), QK norm, two RoPE bases
# (the global one linearly scaled, the sliding one not), no softcaps.
GEMMA3 = {**ODD, "num_layers": 7, "max_seq_len": 64,
          "attention": {**ODD["attention"], "mask_type": "sliding_window", "window_size": 4, "scale": 24 ** -0.5,
                        "layer_pattern": ["sliding_window"] * 5 + ["causal"], "qk_norm": "per_head"},
          "positional": {"rope_base": 5000.0, "rope_scaling": 4.0, "sliding_rope_base": 100.0},
          "norm": {"eps": 1e-6, "placement": "sandwich"}}
CASES = {
    "gemma-tied": (ODD, "gemma"),
    "gemma-untied-gqa-bias": ({**ODD, "d_model": 48, "tie_embeddings": False, "attention": {
        "variant": "gqa", "num_heads": 6, "num_kv_heads": 2, "head_dim": 8, "bias": True}}, "gemma"),
    "gemma2-untied": ({**GEMMA2, "tie_embeddings": False}, "gemma2"),
    "gemma2-tied-full-layers-auto-scale": (
        {**GEMMA2, "attention": {"variant": "mqa", "num_heads": 5, "head_dim": 16, "logit_softcap": 20.0}},
        "gemma2"),
    "gemma3-tied": (GEMMA3, "gemma3_text"),
    "gemma3-untied-one-base-gqa": ({**GEMMA3, "tie_embeddings": False, "num_layers": 3, "positional": {},
                                    "attention": {**GEMMA3["attention"], "variant": "gqa", "num_heads": 6,
                                                  "num_kv_heads": 3, "layer_pattern": None}}, "gemma3_text"),
    "qwen2-mixed-sliding-layers": (
        {"vocab_size": 258, "d_model": 60, "num_layers": 3, "max_seq_len": 32, "tie_embeddings": False,
         "attention": {"variant": "mqa", "num_heads": 5, "bias": "qkv", "mask_type": "sliding_window",
                       "window_size": 4, "layer_pattern": ["causal", "sliding_window", "sliding_window"]}},
        "qwen2"),
}
TOKENS = torch.randint(0, 258, (2, 12), generator=torch.Generator().manual_seed(1))  # past the windows


def perturb_norms(module: torch.nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.named_parameters():
            if "norm" in name:
                tensor.add_(0.3 * torch.randn(tensor.shape, generator=generator))


def hf_model(config: dict, seed: int = 0) -> torch.nn.Module:
    hf = transformers.AutoConfig.for_model(**config)
    hf._attn_implementation = "eager"  # softcapping: sdpa has none
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(hf).eval()
    perturb_norms(model, seed)
    return model


def ir_of(case: str):
    return lower(TransformerConfig.model_validate(CASES[case][0]))


@pytest.mark.parametrize("case", CASES)
def test_logits_match_transformers_both_ways(case):
    ir = ir_of(case)
    assert hf_model_type(ir) == CASES[case][1], unmappable_options(ir)
    ours = build(ir, seed=0).eval()
    perturb_norms(ours, 0)
    theirs = hf_model(hf_config(ir))
    assert type(theirs).__name__ == hf_config(ir)["architectures"][0]
    missing, unexpected = theirs.load_state_dict(to_hf_state_dict(ir, ours.state_dict()), strict=False)
    assert not unexpected and not [name for name in missing if not name.endswith("lm_head.weight")]
    with torch.no_grad():
        expected, actual = ours(TOKENS), theirs(TOKENS).logits
    assert (actual - expected).abs().max() < 1e-4 and expected.abs().max() > 0.3

    fresh = hf_model(hf_config(ir), seed=1)
    back = build(ir, seed=1).eval()
    back.load_state_dict(from_hf_state_dict(ir, fresh.state_dict()))
    with torch.no_grad():
        assert (back(TOKENS) - fresh(TOKENS).logits).abs().max() < 1e-4


@pytest.mark.parametrize("case", CASES)
def test_config_json_round_trips(case):
    ir = ir_of(case)
    assert lower(TransformerConfig.model_validate(model_section_from_hf_config(hf_config(ir)))) == ir


def test_norm_offset_is_converted_both_ways():
    ir = ir_of("gemma-tied")
    ours = build(ir, seed=0)
    state = to_hf_state_dict(ir, ours.state_dict())
    assert torch.equal(state["model.norm.weight"], ours.final_norm.weight.detach() - 1.0)
    back = from_hf_state_dict(ir, state)
    assert torch.allclose(back["blocks.0.attention_norm_in.weight"], ours.blocks[0].attention_norm_in.weight)


def both_layer_types(rope: dict) -> dict:
    return {"rope_parameters": {"full_attention": rope, "sliding_attention": rope}}


@pytest.mark.parametrize("case, change", [
    ("gemma2-untied", {"attn_logit_softcapping": None}), ("gemma2-untied", {"final_logit_softcapping": None}),
    ("gemma2-untied", {"query_pre_attn_scalar": 16}), ("gemma2-untied", {"layer_types": ["full_attention"] * 3}),
    ("gemma3-tied", {"layer_types": ["sliding_attention"] * 6 + ["full_attention"]}),
    ("gemma3-tied", both_layer_types({"rope_type": "linear", "factor": 4.0, "rope_theta": 5000.0})),  # sliding scaled
    ("gemma3-tied", both_layer_types({"rope_type": "default", "rope_theta": 100.0})),  # global: local base, unscaled
])
def test_each_gemma2_and_gemma3_option_changes_transformers_logits(case, change):
    """Guards the Gemma 2 and 3 cases: with one option left out or changed, transformers
    gives other logits."""
    ir = ir_of(case)
    ours = build(ir, seed=0).eval()
    perturb_norms(ours, 0)
    other = hf_model({**hf_config(ir), **change})
    other.load_state_dict(to_hf_state_dict(ir, ours.state_dict()), strict=False)
    with torch.no_grad():
        assert (other(TOKENS).logits - ours(TOKENS)).abs().max() > 1e-3


def test_gemma3_config_reading():
    """Older configs: rope_theta, rope_scaling (global only) and rope_local_base_freq, and
    sliding_window_pattern where layer_types is left out; defaults are transformers'."""
    config = gemma_config(model_type="gemma3_text", num_hidden_layers=7, sliding_window_pattern=3,
                          rope_theta=5000.0, rope_scaling={"rope_type": "linear", "factor": 8.0},
                          rope_local_base_freq=50.0)
    section = model_section_from_hf_config(config)
    assert section["attention"]["layer_pattern"] == ["sliding_window", "sliding_window", "causal"]
    assert section["attention"]["qk_norm"] == "per_head" and "logit_softcap" not in section["attention"]
    assert section["positional"] == {"encoding": "rope", "rope_base": 5000.0, "rope_scaling": 8.0,
                                     "sliding_rope_base": 50.0}
    defaults = model_section_from_hf_config(gemma_config(model_type="gemma3_text", num_hidden_layers=7))
    assert defaults["attention"]["layer_pattern"] == ["sliding_window"] * 5 + ["causal"]
    assert defaults["positional"] == {"encoding": "rope", "rope_base": 1e6, "sliding_rope_base": 1e4}
    assert "final_logit_softcap" not in defaults and defaults["max_seq_len"] == 16


def gemma_config(**change) -> dict:
    config = {"model_type": "gemma", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 64,
              "num_hidden_layers": 2, "num_attention_heads": 3, "num_key_value_heads": 1, "head_dim": 8,
              "max_position_embeddings": 16}
    return config | change


def test_gemma_config_reading():
    assert model_section_from_hf_config(gemma_config(hidden_act="gelu"))["ffn"]["activation"] == "gelu_tanh"
    section = model_section_from_hf_config(gemma_config())
    assert section["embedding_scale"] == "sqrt_d_model" and section["tie_embeddings"] is True
    assert model_section_from_hf_config({**gemma_config(), "model_type": "gemma2"})["attention"] == {
        "variant": "mqa", "num_heads": 3, "num_kv_heads": 1, "head_dim": 8, "bias": False, "dropout": 0.0,
        "mask_type": "sliding_window", "window_size": 4096,  # defaults: sliding_window 4096 ...
        "layer_pattern": ["sliding_window", "causal"],  # ... on alternating layers, sliding first
        "scale": 256 ** -0.5, "logit_softcap": 50.0}


@pytest.mark.parametrize("config, words", [
    (gemma_config(hidden_act="gelu_pytorch_tanh", hidden_activation="gelu"),
     "hidden_act='gelu_pytorch_tanh' and hidden_activation='gelu' differ"),
    (gemma_config(use_bidirectional_attention=True), "use_bidirectional_attention=true"),
    (gemma_config(model_type="gemma2", layer_types=["full_attention"]), "layer_types has 1 entries"),
    (gemma_config(model_type="gemma2", sliding_window=None), "sliding_window=null with 1 sliding layers"),
    (gemma_config(model_type="gemma3_text", **both_layer_types({"rope_type": "linear", "factor": 2.0}),
                  rope_local_base_freq=10.0), "scaled RoPE on the sliding layers differing from the global ones"),
    (gemma_config(model_type="qwen2", use_sliding_window=True, sliding_window=4,
                  layer_types=["chunked_attention", "full_attention"]), "layer_types names 'chunked_attention'"),
])
def test_configs_light_llm_cannot_read_are_named(config, words):
    with pytest.raises(HFConfigError) as caught:
        model_section_from_hf_config(config)
    assert words in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("change, blocker", [
    ({"ffn": {"variant": "geglu", "activation": "gelu"}}, "model.ffn.activation='gelu' (gemma needs 'gelu_tanh' or 'silu')"),
    ({"embedding_scale": 2.0}, "model.embedding_scale=2.0 (gemma needs 'sqrt_d_model')"),
    ({"norm": {"placement": "sandwich"}}, "model.norm.placement='sandwich' (gemma needs 'pre')"),
])
def test_gemma_blockers_are_named(change, blocker):
    ir = lower(TransformerConfig.model_validate({**ODD, **change}))
    assert blocker in unmappable_options(ir)["gemma"]


def test_gemma2_blockers_are_named():
    ir = lower(TransformerConfig.model_validate({**GEMMA2, "attention": {**GEMMA2["attention"], "scale": 0.3}}))
    reasons = unmappable_options(ir)["gemma2"]
    assert "model.attention.scale=0.3 (gemma2 needs s^-0.5 for an integer query_pre_attn_scalar s)" in reasons
    ir = lower(TransformerConfig.model_validate({**GEMMA2, "positional": {"sliding_rope_base": 100.0}}))
    assert "model.positional.sliding_rope_base=100.0 (gemma2 needs none)" in unmappable_options(ir)["gemma2"]
    ir = lower(TransformerConfig.model_validate({**GEMMA2, "attention": {"variant": "mqa", "num_heads": 7, "head_dim": 16}}))
    assert "model.attention.num_heads=7 (gemma2 needs d_model=60 divisible by num_heads)" in unmappable_options(ir)["gemma2"]


def test_qwen2_max_window_layers_becomes_a_layer_pattern():
    config = {"model_type": "qwen2", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 88,
              "num_hidden_layers": 4, "num_attention_heads": 4, "max_position_embeddings": 16,
              "use_sliding_window": True, "sliding_window": 8, "max_window_layers": 1}
    attention = model_section_from_hf_config(config)["attention"]
    assert attention["layer_pattern"] == ["causal", "sliding_window", "sliding_window", "sliding_window"]
    assert model_section_from_hf_config({**config, "use_sliding_window": False})["attention"]["mask_type"] == "causal"
    types = ["sliding_attention", "full_attention"] * 2
    assert model_section_from_hf_config({**config, "layer_types": types})["attention"]["layer_pattern"] == [
        "sliding_window", "causal"]


# --- through files: import-hf, ONNX, export --hf, training -------------------------------

HF_CONFIGS = {
    "gemma": lambda: transformers.GemmaConfig(
        vocab_size=258, hidden_size=60, intermediate_size=152, num_hidden_layers=2, num_attention_heads=5,
        num_key_value_heads=1, head_dim=16, max_position_embeddings=64),
    "gemma2": lambda: transformers.Gemma2Config(
        vocab_size=258, hidden_size=60, intermediate_size=152, num_hidden_layers=3, num_attention_heads=5,
        num_key_value_heads=1, head_dim=16, max_position_embeddings=64, sliding_window=4,
        query_pre_attn_scalar=24, attn_logit_softcapping=3.0, final_logit_softcapping=5.0,
        tie_word_embeddings=False),
    "gemma3_text": lambda: transformers.Gemma3TextConfig(
        vocab_size=258, hidden_size=60, intermediate_size=152, num_hidden_layers=4, num_attention_heads=5,
        num_key_value_heads=1, head_dim=16, max_position_embeddings=64, sliding_window=4, sliding_window_pattern=3,
        query_pre_attn_scalar=24, rope_theta=5000.0, rope_scaling={"rope_type": "linear", "factor": 4.0},
        rope_local_base_freq=100.0),
}


def save_hf_model(path, config) -> torch.nn.Module:
    torch.manual_seed(0)
    config.initializer_range = 0.2  # logits far from zero, so a wrong import shows
    model = transformers.AutoModelForCausalLM.from_config(config).eval()
    perturb_norms(model, 0)
    model.save_pretrained(path)
    transformers.PreTrainedTokenizerFast(
        tokenizer_object=byte_tokenizer(), eos_token="<|endoftext|>", pad_token="<|pad|>").save_pretrained(path)
    return model


@pytest.mark.parametrize("family", ["gemma", "gemma2", "gemma3_text"])
def test_import_hf_onnx_and_export_hf_round_trip(tmp_path, family):
    """With norm offsets away from zero (tests/interop/families.py rows keep transformers'
    zeros, and cover training): import-hf (verified against transformers), then the ONNX export gives the original
    logits on a left-padded batch, and `export --hf` gives a folder transformers loads
    with the same logits and that imports back to the same architecture."""
    original = save_hf_model(tmp_path / "hf", HF_CONFIGS[family]())
    result = import_hf(tmp_path / "hf", tmp_path / "run")
    assert result.parity.passed and result.model_type == family
    folder = load_model_folder(tmp_path / "run")
    export_onnx(folder, tmp_path / "onnx")
    assert_onnx_equals_transformers(folder, tmp_path / "onnx" / "model.onnx", original,
                                    *left_padded_prompts(258, length=9, padding=3))

    assert export_hf(folder, tmp_path / "out").parity.passed
    assert json.loads((tmp_path / "out" / "config.json").read_text())["model_type"] == family
    exported = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "out").eval()
    with torch.no_grad():
        assert (exported(TOKENS).logits - original(TOKENS).logits).abs().max() < 1e-4
    assert import_hf(tmp_path / "out", tmp_path / "back").parity.passed
    assert load_model_folder(tmp_path / "back").build().ir == folder.build().ir


# --- Mistral with per-layer windows: Ministral --------------------------------------------

MISTRAL_PATTERN = {"vocab_size": 258, "d_model": 60, "num_layers": 3, "max_seq_len": 32,
                   "attention": {"variant": "mqa", "num_heads": 5, "mask_type": "sliding_window",
                                 "window_size": 4, "layer_pattern": ["sliding_window", "causal"]}}


def test_mistral_layout_with_a_layer_pattern_maps_onto_ministral():
    ir = lower(TransformerConfig.model_validate(MISTRAL_PATTERN))
    reasons = unmappable_options(ir)
    assert any(r.startswith("model.attention.layer_pattern=[") for r in reasons["mistral"])
    assert hf_model_type(ir) == "ministral"
    ours = build(ir, seed=0).eval()
    theirs = hf_model(hf_config(ir))
    theirs.load_state_dict(to_hf_state_dict(ir, ours.state_dict()), strict=False)
    with torch.no_grad():
        assert (theirs(TOKENS).logits - ours(TOKENS)).abs().max() < 1e-4
    assert lower(TransformerConfig.model_validate(model_section_from_hf_config(hf_config(ir)))) == ir
    windowed = lower(TransformerConfig.model_validate({**MISTRAL_PATTERN, "attention": {
        **MISTRAL_PATTERN["attention"], "layer_pattern": None}}))
    assert hf_model_type(windowed) == "mistral"  # every layer windowed: Mistral itself


def test_mistral_config_layer_types_are_ignored_as_transformers_does():
    """MistralForCausalLM windows every layer whatever `layer_types` says."""
    ir = lower(TransformerConfig.model_validate({**MISTRAL_PATTERN, "attention": {
        **MISTRAL_PATTERN["attention"], "layer_pattern": None}}))
    config = {**hf_config(ir), "layer_types": ["sliding_attention", "full_attention", "full_attention"]}
    ours = build(ir, seed=0).eval()
    theirs = hf_model(config)
    theirs.load_state_dict(to_hf_state_dict(ir, ours.state_dict()), strict=False)
    with torch.no_grad():
        assert (theirs(TOKENS).logits - ours(TOKENS)).abs().max() < 1e-4
    assert lower(TransformerConfig.model_validate(model_section_from_hf_config(config))) == ir
