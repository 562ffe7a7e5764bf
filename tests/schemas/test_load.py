"""load_spec on YAML and JSON files and on dicts: the parsed values, and every error at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from light_llm.schemas.errors import SpecError, format_path
from light_llm.schemas.load import load_spec

DATA = Path(__file__).parent.parent / "data"

YAML_SPEC = """\
$schema: ../schemas/light_llm.schema.json
model:
  d_model: 64
  num_layers: 2
  attention: {num_heads: 4, num_kv_heads: 2}
  ffn: {variant: mlp, activation: gelu}
train:
  steps: 10
"""


def test_yaml_and_json_give_the_same_spec(tmp_path: Path) -> None:
    yaml_file = tmp_path / "spec.yaml"
    yaml_file.write_text(YAML_SPEC)
    import yaml

    json_file = tmp_path / "spec.json"
    json_file.write_text(json.dumps(yaml.safe_load(YAML_SPEC)))
    from_yaml, from_json = load_spec(yaml_file), load_spec(str(json_file))
    assert from_yaml == from_json
    assert (
        from_yaml.model.d_model,
        from_yaml.model.attention.num_kv_heads,
        from_yaml.train.steps,
    ) == (64, 2, 10)
    assert from_yaml.model.ffn.activation == "gelu"


def test_a_dict_is_validated_like_a_file() -> None:
    spec = load_spec({"model": {"num_layers": 3}})
    assert spec.model.num_layers == 3 and spec.data.tokenizer == "byte"


def test_unknown_suffix_is_sniffed(tmp_path: Path) -> None:
    (tmp_path / "a.spec").write_text('{"model": {"d_model": 32, "attention": {"num_heads": 4}}}')
    (tmp_path / "b.spec").write_text("model:\n  d_model: 32\n  attention: {num_heads: 4}\n")
    assert load_spec(tmp_path / "a.spec") == load_spec(tmp_path / "b.spec")


def test_five_mistakes_give_five_errors_in_file_order() -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(DATA / "broken_five_mistakes.yaml")
    lines = caught.value.lines()
    assert [line.split(":")[0] for line in lines] == [
        "model.d_model",
        "model.num_layer",
        "model.attention.num_kv_heads",
        "model.attention.window_size",
        "model.norm.type",
    ]
    assert "got -64" in lines[0]
    assert "did you mean 'num_layers'?" in lines[1]
    assert "num_heads=8" in lines[2] and "num_kv_heads=3" in lines[2]
    assert "sliding_window" in lines[3]
    assert "'batchnorm'" in lines[4] and "'rmsnorm', 'layernorm'" in lines[4]


@pytest.mark.parametrize(
    ("spec", "path", "words"),
    [
        (
            {"model": {"attention": {"nmu_heads": 8}}},
            "model.attention.nmu_heads",
            "did you mean 'num_heads'?",
        ),
        ({"model": {}, "tarin": {}}, "tarin", "did you mean 'train'?"),
        ({"model": {"zzz": 1}}, "model.zzz", "allowed keys: name, vocab_size"),
        ({"model": {"norm": {"type": "rms_norm"}}}, "model.norm.type", "did you mean 'rmsnorm'?"),
        ({"model": {"a b": 1}}, "model['a b']", "unknown key"),
        ({"model": {}, "data": {"corpus": ["a.txt", 3]}}, "data.corpus[1]", "got 3; allowed: a string"),
        (
            {"model": {"attention": {"mask_type": "sliding_window", "window_size": 8,
                                     "layer_pattern": ["sliding_window", "causl"]}}},
            "model.attention.layer_pattern[1]",
            "did you mean 'causal'?",
        ),
        ({"model": {}, "spec_version": 2}, "spec_version", "got 2; allowed: 1"),
        ({"model": {"name": "mamba"}}, "model.name", "allowed: one of 'transformer', 'mixer'"),
        ({"model": {"num_layers": "4"}}, "model.num_layers", "got '4'; allowed: an integer ≥ 1"),
        ({"model": {"tie_embeddings": "yes"}}, "model.tie_embeddings", "true or false"),
        ({"model": 5}, "model", "allowed: a mapping"),
        ({}, "model", "missing"),
    ],
)
def test_structural_errors_name_path_value_and_options(spec: dict, path: str, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    [issue] = caught.value.issues
    assert format_path(issue.path) == path
    assert words in issue.message


def test_every_error_is_collected_and_none_twice() -> None:
    spec = {
        "model": {
            "d_model": 0,
            "attention": {"variant": "mqa", "num_kv_heads": -1, "mask_type": "window"},
            "positional": {"encoding": "alibi", "rope_base": 1.0},
            "ffn": {"activation": "gelu"},
        },
        "train": {"precision": "fp16", "steps": -5},
        "export": {"opset": "18"},
    }
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    paths = [format_path(issue.path) for issue in caught.value.issues]
    assert paths == [
        "model.d_model",
        "model.attention.num_kv_heads",
        "model.attention.mask_type",
        "model.positional.rope_base",
        "model.ffn.activation",
        "train.precision",
        "train.steps",
        "export.opset",
    ]


def test_rule_and_type_error_in_one_section_are_both_reported() -> None:
    # mqa + 2 KV heads is a rule; `bias: "no"` a type: both reach the user in one run.
    with pytest.raises(SpecError) as caught:
        load_spec({"model": {"attention": {"variant": "mqa", "num_kv_heads": 2, "bias": "no"}}})
    assert [format_path(issue.path) for issue in caught.value.issues] == [
        "model.attention.num_kv_heads",
        "model.attention.bias",
    ]


def test_the_error_text_lists_every_line_under_the_source() -> None:
    with pytest.raises(SpecError) as caught:
        load_spec({"model": {"d_model": -1, "num_layers": 0}})
    assert str(caught.value).splitlines() == [
        "<dict>: 2 errors",
        "  model.d_model: got -1; allowed: an integer ≥ 1 and ≤ 65536",
        "  model.num_layers: got 0; allowed: an integer ≥ 1 and ≤ 1024",
    ]


def test_schema_key_is_allowed_anywhere_a_spec_lives() -> None:
    assert (
        load_spec({"$schema": "https://example.org/s.json", "model": {}}).schema_
        == "https://example.org/s.json"
    )
