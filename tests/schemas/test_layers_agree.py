"""The JSON Schema (what other programs validate with) and pydantic (what light_llm loads
with) give the same verdict on any document, except for the rules JSON Schema cannot
state (schemas/cross_field.py), which only pydantic refuses."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from light_llm.schemas.base import RuleViolation
from light_llm.schemas.cross_field import RULE_PATHS
from light_llm.schemas.errors import format_path
from light_llm.schemas.json_schema import spec_json_schema
from light_llm.schemas.spec import Spec

GENERIC = [
    None, True, False, 0, 1, 2, 3, 4, 8, 64, -1, 0.5, 1.0, 64.0, 2.5, 1e-13, 1e308, 3.5e38,
    10**400, 2**63, "64", "true", "auto", "", [], {}, ["a"],
]


def _interesting(field: dict[str, Any], root: dict[str, Any]) -> list[Any]:
    """Values at and around what `field` allows: enum members, bounds and their neighbours."""
    values: list[Any] = []
    options = field.get("anyOf", [field])
    for option in options:
        if "$ref" in option:
            continue
        values += option.get("enum", [])
        if "const" in option:
            values.append(option["const"])
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if key in option:
                bound = option[key]
                values += [bound, bound + 1, bound - 1, bound * 2, bound / 2]
                if option.get("type") == "integer":
                    values.append(float(bound))
    if "default" in field and not isinstance(field["default"], dict):
        values.append(field["default"])
    return [value for value in values if not isinstance(value, float) or math.isfinite(value)]


def _section(definition: dict[str, Any], root: dict[str, Any], depth: int = 0) -> st.SearchStrategy:
    fields = {}
    for key, field in definition["properties"].items():
        if "$ref" in field:
            target = root["$defs"][field["$ref"].rsplit("/", 1)[1]]
            fields[key] = _section(target, root, depth + 1)
        else:
            fields[key] = st.sampled_from(_interesting(field, root) + GENERIC)
    required = set(definition.get("required", []))
    return st.fixed_dictionaries(
        {key: value for key, value in fields.items() if key in required},
        optional={key: value for key, value in fields.items() if key not in required},
    )


SCHEMA = spec_json_schema()
DOCUMENTS = _section(SCHEMA, SCHEMA)
SMALL_MODEL = st.fixed_dictionaries(
    {},
    optional={
        "d_model": st.sampled_from([8, 12, 16, 24, 32.0]),
        "max_seq_len": st.sampled_from([1, 4, 16]),
        "attention": st.fixed_dictionaries(
            {},
            optional={
                "variant": st.sampled_from(["mha", "gqa", "mqa", "complex"]),
                "num_heads": st.sampled_from([1, 2, 3, 4, 8]),
                "num_kv_heads": st.sampled_from([1, 2, 3, 4, "auto"]),
                "head_dim": st.sampled_from([3, 4, "auto"]),
                "mask_type": st.sampled_from(["causal", "sliding_window"]),
                "window_size": st.sampled_from([2, 8, 32]),
            },
        ),
        "positional": st.fixed_dictionaries(
            {}, optional={"encoding": st.sampled_from(["rope", "alibi", "none"])}
        ),
    },
)
"""Documents that mostly pass the schema, so that the cross-field rules get exercised."""


def schema_verdict(document: Any) -> bool:
    return Draft202012Validator(SCHEMA).is_valid(document)


def pydantic_verdict(document: Any) -> tuple[bool, set[str]]:
    """(accepted, paths of the broken cross-field rules when it was refused for them alone)."""
    try:
        Spec.model_validate(document)
    except ValidationError as error:
        rule_paths: set[str] = set()
        for detail in error.errors(include_url=False):
            cause = detail.get("ctx", {}).get("error")
            if not isinstance(cause, RuleViolation):
                return False, set()
            section = tuple(part for part in detail["loc"] if isinstance(part, str))
            rule_paths |= {format_path((*section, *where.split("."))) for where, _ in cause.problems}
        return False, rule_paths
    return True, set()


def check_agreement(document: Any) -> None:
    by_schema = schema_verdict(document)
    by_pydantic, rule_paths = pydantic_verdict(document)
    if by_schema:
        assert by_pydantic or (rule_paths and rule_paths <= RULE_PATHS), (document, rule_paths)
    else:
        assert not by_pydantic, document


@settings(max_examples=400, deadline=None)
@given(DOCUMENTS)
def test_any_document_gets_the_same_verdict(document: dict[str, Any]) -> None:
    check_agreement(document)


@settings(max_examples=200, deadline=None)
@given(SMALL_MODEL)
def test_near_valid_models_differ_only_on_listed_rules(model: dict[str, Any]) -> None:
    check_agreement({"model": model})


@pytest.mark.parametrize(
    "document",
    [
        {"model": {"d_model": "64"}},
        {"model": {"num_layers": True}},
        {"model": {"tie_embeddings": 0}},
        {"model": {"tie_embeddings": "true"}},
        {"spec_version": True, "model": {}},
        {"model": {"d_model": 3.5e38}},
        {"model": {}, "train": {"seed": 1e308}},
        {"model": {"norm": {"eps": 10**400}}},
        {"model": {"num_layers": 10**9}},
        {"model": {"ffn": {"expansion_factor": 1.7976931348623157e308}}},
        {"model": {"d_model": 10**400}},
        {"model": {"init_std": 1e30}},
        {"model": {"positional": {"rope_base": 1e-300}}},
        {"model": {}, "data": {"tokenizer": "x" * 2000}},
    ],
)
def test_both_layers_refuse_the_reported_cases(document: dict[str, Any]) -> None:
    assert not schema_verdict(document)
    assert not pydantic_verdict(document)[0]


@pytest.mark.parametrize(
    "document",
    [
        {"model": {"d_model": 64.0, "attention": {"num_heads": 4.0}}},
        {"model": {"init_std": 1, "norm": {"eps": 1}}},
        {"spec_version": 1.0, "model": {"positional": {"rope_base": 500000}}},
    ],
)
def test_both_layers_accept_json_integers_and_floats_alike(document: dict[str, Any]) -> None:
    assert schema_verdict(document)
    assert pydantic_verdict(document)[0]
