"""The second validation layer: pydantic, for types the schema cannot pin down and the
cross-field rules of each section. A `RuleViolation` raised inside a nested section is
unpacked into one issue per broken rule, at the rule's own path."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from light_llm.spec_base import RuleViolation
from light_llm.schemas.describe import show
from light_llm.schemas.errors import Path, SpecIssue
from light_llm.schemas.spec import Spec


def rule_issues(data: Any) -> tuple[Spec | None, list[SpecIssue]]:
    """The validated spec, or None with every issue pydantic found."""
    try:
        return Spec.model_validate(data), []
    except ValidationError as error:
        issues: list[SpecIssue] = []
        for detail in error.errors(include_url=False):
            issues.extend(_issues(detail, data))
        return None, issues


def _issues(detail: ErrorDetails, data: Any) -> list[SpecIssue]:
    path = _data_path(detail["loc"], data, detail["type"])
    if _scalar_branch_of_a_mapping(detail, path):
        return []
    cause = detail.get("ctx", {}).get("error")
    if isinstance(cause, RuleViolation):
        return [SpecIssue((*path, *where.split(".")), message) for where, message in cause.problems]
    if detail["type"] == "model_family":  # the spec's union of model families: name it
        return [SpecIssue((*path, "name"), detail["msg"])]
    if detail["type"] == "missing":
        return [SpecIssue(path, "missing; this key is required")]
    return [SpecIssue(path, f"got {show(detail['input'])}; {detail['msg']}")]


def _scalar_branch_of_a_mapping(detail: ErrorDetails, path: Path) -> bool:
    """A mapping given to a value-or-mapping union (rope_scaling: a number or an object):
    the number branch's type error is not the mistake; the mapping branch reports its own."""
    is_union_branch = len(detail["loc"]) > len(path)
    return is_union_branch and isinstance(detail["input"], dict) and detail["type"].endswith("_type")


def _data_path(loc: tuple[int | str, ...], data: Any, kind: str) -> Path:
    """The part of pydantic's `loc` that names places in the data. The rest are union
    member tags such as 'int' or "literal['auto']", which the user never wrote."""
    path: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        if _is_family_tag(node, part, loc[index + 1:]):
            continue
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            if kind == "missing" and part == loc[-1]:
                path.append(part)
            break
        path.append(part)
    return tuple(path)


def _is_family_tag(node: Any, part: int | str, rest: tuple[int | str, ...]) -> bool:
    """The model section's union tag ('transformer', 'mixer'): not a key of the data."""
    return isinstance(node, dict) and part not in node and bool(rest) and rest[0] in node
