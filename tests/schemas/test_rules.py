"""Every cross-field and range rule of the spec: the path and words of its error, that
pydantic alone enforces it, and that values just inside the rule are accepted."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from light_llm.schemas.errors import SpecError, format_path
from light_llm.schemas.load import load_spec
from light_llm.schemas.spec import Spec


def spec_with(**sections: Any) -> dict[str, Any]:
    """A spec whose model section is `sections` (model-level keys and sub-sections)."""
    return {"spec_version": 1, "model": dict(sections)}


BROKEN = [
    # (spec, path of the error, words the message must contain)
    (
        spec_with(attention={"num_heads": 8, "num_kv_heads": 3}),
        "model.attention.num_kv_heads",
        ["num_heads=8", "num_kv_heads=3", "divisor of 8"],
    ),
    (
        spec_with(attention={"variant": "mqa", "num_kv_heads": 2}),
        "model.attention.num_kv_heads",
        ["'mqa'", "1 KV head", "2"],
    ),
    (
        spec_with(attention={"variant": "mha", "num_heads": 8, "num_kv_heads": 4}),
        "model.attention.num_kv_heads",
        ["'mha'", "(8)", "4"],
    ),
    (
        spec_with(d_model=100, attention={"num_heads": 8}),
        "model.attention.num_heads",
        ["d_model=100", "num_heads=8"],
    ),
    (
        spec_with(d_model=24, attention={"num_heads": 8, "num_kv_heads": 2}),
        "model.attention.head_dim",
        ["even", "3"],
    ),
    (
        spec_with(
            attention={"variant": "complex", "head_dim": 5}, positional={"encoding": "alibi"}
        ),
        "model.attention.head_dim",
        ["complex", "even", "5"],
    ),
    (
        spec_with(attention={"variant": "complex", "use_flash_attn": True}),
        "model.attention.use_flash_attn",
        ["complex"],
    ),
    (
        spec_with(attention={"mask_type": "sliding_window"}),
        "model.attention.window_size",
        ["required", "sliding_window"],
    ),
    (
        spec_with(attention={"window_size": 16}),
        "model.attention.window_size",
        ["16", "sliding_window"],
    ),
    (
        spec_with(attention={"mask_type": "sliding_window", "window_size": 0}),
        "model.attention.window_size",
        ["0", "≥ 1"],
    ),
    (
        spec_with(max_seq_len=64, attention={"mask_type": "sliding_window", "window_size": 128}),
        "model.attention.window_size",
        ["128", "max_seq_len=64"],
    ),
    (
        spec_with(positional={"encoding": "alibi", "rope_base": 500000.0}),
        "model.positional.rope_base",
        ["500000.0", "'rope'"],
    ),
    (
        spec_with(positional={"encoding": "learned", "rope_scaling": 2.0}),
        "model.positional.rope_scaling",
        ["2.0", "'rope'"],
    ),
    (spec_with(positional={"rope_scaling": 1.0}), "model.positional.rope_scaling", ["1.0", "> 1"]),
    (
        spec_with(ffn={"variant": "swiglu", "activation": "relu"}),
        "model.ffn.activation",
        ["'relu'", "'mlp'"],
    ),
    (
        spec_with(ffn={"variant": "geglu", "activation": "relu"}),
        "model.ffn.activation",
        ["'geglu'", "'gelu' or 'gelu_tanh'", "'relu'"],
    ),
    (spec_with(parallel_norms="separate"), "model.parallel_norms", ["'separate'", "parallel_layers"]),
    (spec_with(positional={"encoding": "alibi", "layer_pattern": ["none"]}), "model.positional.layer_pattern",
     ["'rope'", '["none"]']),
    (spec_with(positional={"layer_pattern": ["rope", "alibi"]}), "model.positional.layer_pattern",
     ["'alibi'", "'rope' or 'none'"]),
    (spec_with(num_layers=2, positional={"layer_pattern": ["rope", "rope", "none"]}),
     "model.positional.layer_pattern", ["3 entries", "num_layers=2"]),
    (spec_with(residual_scale=0.0), "model.residual_scale", ["0.0"]),
    (spec_with(logit_divisor=-2.0), "model.logit_divisor", ["-2.0"]),
    (
        spec_with(parallel_layers=True, parallel_norms="separate", norm={"placement": "output"}),
        "model.parallel_norms",
        ["'separate'", "'pre' or 'sandwich'"],
    ),
    (spec_with(norm={"placement": "outputs"}), "model.norm.placement", ["'outputs'", "'output'"]),
    (spec_with(d_model=-64), "model.d_model", ["-64", "≥ 1"]),
    (spec_with(num_layers=0), "model.num_layers", ["0", "≥ 1"]),
    (spec_with(vocab_size=-1), "model.vocab_size", ["-1", "'auto'"]),
    (spec_with(attention={"num_heads": 0}), "model.attention.num_heads", ["0", "≥ 1"]),
    (spec_with(attention={"head_dim": -2}), "model.attention.head_dim", ["-2", "'auto'"]),
    (spec_with(dropout=1.0), "model.dropout", ["1.0", "< 1"]),
    (spec_with(attention={"dropout": -0.1}), "model.attention.dropout", ["-0.1", "≥ 0"]),
    (spec_with(ffn={"dropout": 1.5}), "model.ffn.dropout", ["1.5"]),
    (spec_with(norm={"eps": 0}), "model.norm.eps", ["0", "≥ 1e-12"]),
    (spec_with(attention={"variant": "complex", "logit_softcap": 50.0}),
     "model.attention.logit_softcap", ["50.0", "'complex'", "null"]),
    (spec_with(attention={"use_flash_attn": True, "logit_softcap": 50.0}),
     "model.attention.logit_softcap", ["50.0", "use_flash_attn"]),
    (spec_with(attention={"variant": "complex", "sinks": True}), "model.attention.sinks", ["'complex'", "false"]),
    (spec_with(attention={"use_flash_attn": True, "sinks": True}), "model.attention.sinks", ["use_flash_attn"]),
    (spec_with(attention={"bias": "qk"}), "model.attention.bias", ["'qk'", "qkv"]),
    (spec_with(ffn={"swiglu_limit": 5.0}), "model.ffn.swiglu_limit", ["'clamped_swiglu'", "5.0"]),
    (spec_with(attention={"qk_norm": "per_query"}), "model.attention.qk_norm", ["per_query", "per_head"]),
    (spec_with(attention={"scale": 0}), "model.attention.scale", ["0", "'auto'"]),
    (spec_with(attention={"logit_softcap": -1.0}), "model.attention.logit_softcap", ["-1.0"]),
    (spec_with(final_logit_softcap=0.0), "model.final_logit_softcap", ["0.0"]),
    (spec_with(embedding_scale="sqrt"), "model.embedding_scale", ["sqrt", "sqrt_d_model"]),
    # RoPE options
    (spec_with(positional={"rope_scaling": {"type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                            "original_max_position_embeddings": 64}}),
     "model.positional.rope_scaling.high_freq_factor", ["missing", "'llama3'"]),
    (spec_with(positional={"rope_scaling": {"type": "yarn", "factor": 4.0, "low_freq_factor": 1.0,
                                            "original_max_position_embeddings": 64}}),
     "model.positional.rope_scaling.low_freq_factor", ["1", "'llama3'"]),
    (spec_with(positional={"rope_scaling": {"type": "ntk", "factor": 4.0}}),
     "model.positional.rope_scaling.type", ["'ntk'", "'yarn'"]),
    (spec_with(positional={"rope_scaling": {"type": "llama3", "factor": 8.0, "low_freq_factor": 4.0,
                                            "high_freq_factor": 2.0, "original_max_position_embeddings": 64}}),
     "model.positional.rope_scaling.high_freq_factor", ["2.0", "low_freq_factor=4.0"]),
    (spec_with(positional={"rope_scaling": {"type": "yarn", "factor": 4.0, "beta_slow": 64.0,
                                            "original_max_position_embeddings": 64}}),
     "model.positional.rope_scaling.beta_fast", ["32.0", "beta_slow=64.0"]),
    (spec_with(positional={"rope_fraction": 0.3}), "model.positional.rope_fraction",
     ["int(32·0.3) = 9", "even"]),
    (spec_with(positional={"encoding": "alibi", "rope_pairing": "interleaved"}),
     "model.positional.rope_pairing", ["'rope'"]),
    (spec_with(attention={"variant": "complex"}, positional={"rope_pairing": "interleaved"}),
     "model.positional.rope_pairing", ["complex", "'half'"]),
    (spec_with(positional={"rope_fraction": 0.0}), "model.positional.rope_fraction", ["0.0", "> 0"]),
    (spec_with(attention={"layer_pattern": ["sliding_window", "causal"]}),
     "model.attention.layer_pattern", ["'sliding_window'"]),
    (spec_with(num_layers=2, attention={"mask_type": "sliding_window", "window_size": 8,
                                        "layer_pattern": ["sliding_window", "causal", "causal"]}),
     "model.attention.layer_pattern", ["3 entries", "num_layers=2"]),
    (spec_with(positional={"sliding_rope_base": 100.0}), "model.positional.sliding_rope_base",
     ["100.0", "'sliding_window'", "'causal'"]),
    (spec_with(positional={"encoding": "alibi", "sliding_rope_base": 100.0},
               attention={"mask_type": "sliding_window", "window_size": 8}),
     "model.positional.sliding_rope_base", ["'rope'"]),
    # every derived size ≥ 1, every positive factor a normal fp32 number
    (spec_with(d_model=64, ffn={"expansion_factor": 1e-09}), "model.ffn.expansion_factor",
     ["1e-09·64", "below 1", "1/d_model = 0.0156"]),
    (spec_with(d_model=64, ffn={"expansion_factor": 0.01}), "model.ffn.expansion_factor", ["0.01·64 = 0.64"]),
    (spec_with(attention={"scale": 2.2250738585072014e-308, "qk_norm": "per_head"}), "model.attention.scale",
     ["2.2250738585072014e-308", "≥ 1.1754943508222875e-38"]),
    (spec_with(embedding_scale=1e-300), "model.embedding_scale", ["≥ 1.1754943508222875e-38"]),
    (spec_with(attention={"logit_softcap": 1e-40}), "model.attention.logit_softcap", ["≥ 1.1754943508222875e-38"]),
]


@pytest.mark.parametrize(
    ("spec", "path", "words"), BROKEN, ids=[case[1] + ":" + case[2][0] for case in BROKEN]
)
def test_rule_is_reported_at_its_path(spec: dict[str, Any], path: str, words: list[str]) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    issues = caught.value.issues
    assert [format_path(issue.path) for issue in issues] == [path], str(caught.value)
    for word in words:
        assert word in issues[0].message


@pytest.mark.parametrize(
    ("spec", "path", "words"), BROKEN, ids=[case[1] + ":" + case[2][0] for case in BROKEN]
)
def test_pydantic_alone_enforces_the_rule(
    spec: dict[str, Any], path: str, words: list[str]
) -> None:
    with pytest.raises(ValidationError):
        Spec.model_validate(spec)


ACCEPTED = [
    spec_with(d_model=64, ffn={"expansion_factor": 1 / 64}),  # a hidden size of 1 before rounding up
    spec_with(attention={"scale": 2.0**-126}, init_std=2.0**-126),
    spec_with(attention={"num_heads": 8, "num_kv_heads": 2}),
    spec_with(attention={"variant": "mqa", "num_kv_heads": 1}),
    spec_with(attention={"variant": "mha", "num_heads": 8, "num_kv_heads": 8}),
    spec_with(d_model=100, attention={"num_heads": 8, "head_dim": 12, "num_kv_heads": 4}),
    spec_with(attention={"mask_type": "sliding_window", "window_size": 256}, max_seq_len=256),
    spec_with(attention={"mask_type": "causal", "window_size": None}),
    spec_with(positional={"encoding": "rope", "rope_base": 500000.0, "rope_scaling": 4.0}),
    spec_with(positional={"encoding": "alibi", "rope_scaling": None}),
    spec_with(ffn={"variant": "mlp", "activation": "relu"}),
    spec_with(ffn={"variant": "geglu", "activation": "gelu_tanh"}),
    spec_with(parallel_layers=True, parallel_norms="separate", norm={"placement": "sandwich"}),
    spec_with(norm={"placement": "output"}, lm_head_bias=True),
    spec_with(
        attention={"variant": "complex", "num_kv_heads": 2}, positional={"encoding": "sinusoidal"}
    ),
    spec_with(attention={"variant": "complex", "mask_type": "sliding_window", "window_size": 8}),
    spec_with(dropout=0.0, attention={"dropout": 0.999}),
    spec_with(attention={"bias": "qkv", "qk_norm": "whole", "scale": 0.0625, "logit_softcap": 50.0},
              final_logit_softcap=30.0, embedding_scale="sqrt_d_model"),
    spec_with(attention={"variant": "complex", "qk_norm": "per_head", "bias": True}, embedding_scale=2.0),
    spec_with(attention={"sinks": True, "logit_softcap": 30.0},
              ffn={"variant": "clamped_swiglu", "swiglu_alpha": 1.5, "swiglu_limit": 5.0}),
    spec_with(positional={"rope_fraction": 0.25, "rope_pairing": "interleaved",
                          "rope_scaling": {"type": "yarn", "factor": 4.0,
                                           "original_max_position_embeddings": 64}}),
    spec_with(positional={"rope_scaling": {"type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                           "high_freq_factor": 4.0, "original_max_position_embeddings": 64}}),
    spec_with(positional={"rope_scaling": {"type": "linear", "factor": 2.0}}),
    spec_with(num_layers=6, attention={"mask_type": "sliding_window", "window_size": 8,
                                       "layer_pattern": ["sliding_window"] * 5 + ["causal"]},
              positional={"rope_base": 1e6, "sliding_rope_base": 1e4}),
    spec_with(num_layers=4, positional={"layer_pattern": ["rope", "rope", "rope", "none"]},
              residual_scale=0.22, logit_divisor=16.0, embedding_scale=12.0),
    spec_with(num_layers=2, positional={"layer_pattern": ["none"]}),
]


@pytest.mark.parametrize("spec", ACCEPTED)
def test_values_inside_the_rules_are_accepted(spec: dict[str, Any]) -> None:
    assert load_spec(spec).model.name == "transformer"


def test_auto_kv_heads_follow_the_variant() -> None:
    resolved = {
        variant: load_spec(
            spec_with(attention={"variant": variant, "num_heads": 8})
        ).model.attention.resolved_num_kv_heads()
        for variant in ("mha", "gqa", "mqa", "complex")
    }
    assert resolved == {"mha": 8, "gqa": 2, "mqa": 1, "complex": 8}


def test_defaults_match_the_models_doc() -> None:
    model = load_spec(spec_with()).model
    assert (model.attention.variant, model.attention.num_heads, model.attention.num_kv_heads) == (
        "gqa",
        8,
        "auto",
    )
    assert (model.attention.mask_type, model.attention.window_size, model.attention.bias) == (
        "causal",
        None,
        False,
    )
    assert (
        model.positional.encoding,
        model.positional.rope_base,
        model.positional.rope_scaling,
    ) == ("rope", 10000.0, None)
    assert (model.ffn.variant, model.ffn.expansion_factor, model.ffn.activation) == (
        "swiglu",
        2.6667,
        "silu",
    )
    assert (model.norm.type, model.norm.eps, model.norm.placement) == ("rmsnorm", 1e-5, "pre")
    assert (
        model.tie_embeddings,
        model.parallel_layers,
        model.init_std,
        model.residual_scaled_init,
    ) == (True, False, 0.02, True)
