"""The first validation layer: the generated JSON Schema, checked with the jsonschema
library, rendered as `path: got X; allowed: Y` issues."""

from __future__ import annotations

import difflib
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from light_llm.schemas.describe import allowed, show
from light_llm.spec_base import LIMIT
from light_llm.schemas.errors import MAX_KEY, Path, SpecIssue
from light_llm.schemas.json_schema import spec_json_schema


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(spec_json_schema())


def structure_issues(data: Any) -> list[SpecIssue]:
    """Every place where `data` breaks the JSON Schema of a spec."""
    issues: list[SpecIssue] = []
    for error in _validator().iter_errors(data):
        issues.extend(_render(error))
    return issues


def _render(error: ValidationError) -> list[SpecIssue]:
    path: Path = tuple(error.absolute_path)
    rule = _rule_description(error)
    if error.validator == "additionalProperties":
        return [_unknown_key(path, key, error) for key in _unexpected_keys(error)]
    container_branch = _container_branch_errors(error)
    if container_branch:
        return [issue for sub in container_branch for issue in _render(sub)]
    if error.validator == "required":
        missing = [key for key in error.validator_value if key not in error.instance]
        reason = rule or "this key is required"
        return [SpecIssue((*path, key), f"missing; {reason}") for key in missing]
    got = f"got {show(error.instance)}"
    if rule:
        return [SpecIssue(path, f"{got}; {rule}")]
    message = f"{got}; allowed: {allowed(error.schema, spec_json_schema())}{_limit_reason(error)}"
    options = (
        error.schema.get("enum", [error.schema.get("const")])
        if isinstance(error.schema, dict)
        else []
    )
    return [SpecIssue(path, message + _did_you_mean(error.instance, options))]


def _container_branch_errors(error: ValidationError) -> list[ValidationError]:
    """For a mapping or list given to a field that also takes a plain value (anyOf: number |
    object | null, e.g. rope_scaling; list | null, e.g. layer_pattern): the mistakes inside
    the mapping or at the list's entries, not "none of the options"."""
    if error.validator != "anyOf" or not isinstance(error.instance, (dict, list)):
        return []
    return [sub for sub in error.context or []
            if not (sub.validator == "type" and sub.instance is error.instance)]


def _rule_description(error: ValidationError) -> str | None:
    """The message of a cross-field rule (an if/then/else branch of conditional.py)."""
    # Rules sit in allOf lists; a then/else elsewhere is the model family union's choice.
    path = list(error.schema_path)
    in_branch = any(
        part in ("then", "else") and i >= 2 and path[i - 2] == "allOf" for i, part in enumerate(path)
    )
    if in_branch and isinstance(error.schema, dict):
        return error.schema.get("description")
    return None


def _unexpected_keys(error: ValidationError) -> list[str]:
    known = error.schema.get("properties", {})
    return [key for key in error.instance if key not in known]


def _unknown_key(path: Path, key: str, error: ValidationError) -> SpecIssue:
    known = list(error.schema.get("properties", {}))
    hint = _did_you_mean(key, known) or f"; allowed keys: {', '.join(known)}"
    # The path names the key already; a long one is not repeated in full.
    named = f" {key!r}" if len(key) <= MAX_KEY else ""
    return SpecIssue((*path, key), f"unknown key{named}{hint}")


def _limit_reason(error: ValidationError) -> str:
    """Why a number is out of range, from the `Limit:` sentence of the field's description:
    given past an upper bound, or past a lower bound other than the natural 0 or 1."""
    value, schema = error.instance, error.schema
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not isinstance(schema, dict):
        return ""
    description = schema.get("description", "")
    if LIMIT not in description:
        return ""
    numeric = [option for option in schema.get("anyOf", [schema]) if "type" in option]
    if any(_beyond_meaningful_bound(value, option) for option in numeric):
        return " (" + description.split(LIMIT, 1)[1].rstrip(".") + ")"
    return ""


def _beyond_meaningful_bound(value: float, schema: dict[str, Any]) -> bool:
    above = ("maximum" in schema and value > schema["maximum"]) or (
        "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]
    )
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    below = low is not None and low not in (0, 1) and value < low
    below = below or (schema.get("type") == "number" and low == 1 and value < low)
    return above or below


def _did_you_mean(value: object, options: list[object]) -> str:
    if not isinstance(value, str):
        return ""
    words = [option for option in options if isinstance(option, str)]
    close = difflib.get_close_matches(value, words, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
