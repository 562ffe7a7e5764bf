"""The committed JSON Schema: fresh, complete, and usable by the jsonschema library alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from light_llm.schemas.conditional import conditional_rules
from light_llm.schemas.json_schema import COMMITTED_PATH, render_schema

ROOT = Path(__file__).parent.parent.parent
EXAMPLES = sorted((ROOT / "examples" / "specs").iterdir())
BROKEN = ROOT / "tests" / "data" / "broken_five_mistakes.yaml"


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    return json.loads((ROOT / COMMITTED_PATH).read_text(encoding="utf-8"))


def read_data(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def objects(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield "(root)", schema
    yield from schema["$defs"].items()


def test_committed_schema_is_fresh() -> None:
    assert (ROOT / COMMITTED_PATH).read_text(encoding="utf-8") == render_schema(), (
        "schemas/light_llm.schema.json is stale: run `lightllm schema --out schemas/light_llm.schema.json`"
    )


def test_is_a_valid_draft_2020_12_schema(committed: dict[str, Any]) -> None:
    assert committed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(committed)


def test_every_field_has_a_description_and_a_default(committed: dict[str, Any]) -> None:
    for name, schema in objects(committed):
        assert schema["additionalProperties"] is False, name
        for key, field in schema["properties"].items():
            assert field.get("description"), f"{name}.{key} has no description"
            assert "default" in field or key in schema.get("required", []), (
                f"{name}.{key} has no default"
            )
    assert committed["required"] == ["model"]


def test_enums_and_auto_are_visible(committed: dict[str, Any]) -> None:
    attention = committed["$defs"]["AttentionConfig"]["properties"]
    assert attention["variant"]["enum"] == ["mha", "gqa", "mqa", "complex"]
    assert attention["mask_type"]["enum"] == ["causal", "bidirectional", "sliding_window"]
    assert {"const": "auto", "type": "string"} in attention["num_kv_heads"]["anyOf"]
    assert attention["num_kv_heads"]["default"] == "auto"
    assert committed["$defs"]["PositionalConfig"]["properties"]["encoding"]["enum"] == [
        "rope",
        "alibi",
        "sinusoidal",
        "learned",
        "none",
    ]
    assert "$schema" in committed["properties"]


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_jsonschema_alone_accepts_every_example(committed: dict[str, Any], example: Path) -> None:
    data = read_data(example)
    assert data["$schema"] == "../../schemas/light_llm.schema.json"
    assert (example.parent / data["$schema"]).resolve() == (ROOT / COMMITTED_PATH).resolve()
    assert list(Draft202012Validator(committed).iter_errors(data)) == []


def test_examples_cover_yaml_json_and_the_presets() -> None:
    names = {path.name for path in EXAMPLES}
    assert {
        "tiny.yaml",
        "llama.yaml",
        "gpt2.yaml",
        "alibi.yaml",
        "sliding.yaml",
        "complex.yaml",
    } <= names
    assert any(name.endswith(".json") for name in names)


def test_jsonschema_alone_rejects_the_broken_spec(committed: dict[str, Any]) -> None:
    errors = Draft202012Validator(committed).iter_errors(read_data(BROKEN))
    paths = {".".join(map(str, error.absolute_path)) for error in errors}
    # 8 heads with 3 KV heads needs arithmetic that JSON Schema lacks: pydantic catches it.
    assert {"model.d_model", "model", "model.attention", "model.norm.type"} <= paths


CONDITIONAL_CASES = [
    (
        {"attention": {"mask_type": "sliding_window"}},
        {"attention": {"mask_type": "sliding_window", "window_size": 8}},
    ),
    ({"attention": {"window_size": 8}}, {"attention": {"window_size": None}}),
    (
        {"attention": {"variant": "mqa", "num_kv_heads": 2}},
        {"attention": {"variant": "mqa", "num_kv_heads": 1}},
    ),
    (
        {"attention": {"variant": "complex", "use_flash_attn": True}},
        {"attention": {"variant": "mha", "use_flash_attn": True}},
    ),
    ({"positional": {"encoding": "alibi", "rope_base": 1.0}}, {"positional": {"rope_base": 1.0}}),
    (
        {"positional": {"encoding": "none", "rope_scaling": 2.0}},
        {"positional": {"encoding": "none", "rope_scaling": None}},
    ),
    ({"ffn": {"activation": "gelu"}}, {"ffn": {"variant": "mlp", "activation": "gelu"}}),
    (
        {"ffn": {"variant": "geglu", "activation": "relu"}},
        {"ffn": {"variant": "geglu", "activation": "gelu_tanh"}},
    ),
    ({"parallel_norms": "separate"}, {"parallel_norms": "separate", "parallel_layers": True}),
    (
        {"parallel_norms": "separate", "parallel_layers": True, "norm": {"placement": "post"}},
        {"parallel_norms": "separate", "parallel_layers": True, "norm": {"placement": "sandwich"}},
    ),
]


SPEC_CONDITIONAL_CASES = [
    (
        {"model": {}, "data": {"tokenizer": "bpe"}},
        {"model": {"vocab_size": 512}, "data": {"tokenizer": "bpe"}},
    ),
    (
        {"model": {"vocab_size": "auto"}, "data": {"tokenizer": "bpe"}},
        {"model": {"vocab_size": "auto"}, "data": {"tokenizer": "byte"}},
    ),
]


@pytest.mark.parametrize(
    ("broken", "fixed"),
    [({"model": broken}, {"model": fixed}) for broken, fixed in CONDITIONAL_CASES] + SPEC_CONDITIONAL_CASES,
)
def test_if_then_rules_agree_with_pydantic(
    committed: dict[str, Any], broken: dict, fixed: dict
) -> None:
    from pydantic import ValidationError

    from light_llm.schemas.spec import Spec

    validator = Draft202012Validator(committed)
    assert not validator.is_valid(broken)
    with pytest.raises(ValidationError):
        Spec.model_validate(broken)
    assert validator.is_valid(fixed)
    Spec.model_validate(fixed)


def test_every_conditional_rule_is_in_the_schema(committed: dict[str, Any]) -> None:
    for model, rules in conditional_rules().items():
        where = committed if model.__name__ == "Spec" else committed["$defs"][model.__name__]
        assert where["allOf"] == rules
