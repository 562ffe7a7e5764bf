"""`load_spec`: a spec file (JSON or YAML) or a dict in, a validated `Spec` out.

Validation runs in two layers and reports every problem at once: the JSON Schema
(structure, types, options, unknown keys, the if/then rules) and then pydantic (the
cross-field rules). A pydantic issue at or below a path the schema already flagged, or
about a list one of whose entries it flagged, is the same mistake seen twice, and is
dropped. Pydantic checks a section's cross-field
rules only once that section's own values are valid, so a rule can surface after the
first round of fixes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from light_llm.schemas.describe import type_name
from light_llm.schemas.errors import Path, SpecError, SpecIssue, unreadable
from light_llm.schemas.read import read_spec_file
from light_llm.schemas.rules import rule_issues
from light_llm.schemas.shape import shape_issues
from light_llm.schemas.spec import Spec
from light_llm.schemas.structure import structure_issues

DICT_SOURCE = "<dict>"


def load_spec(source: str | os.PathLike[str] | Mapping[str, Any]) -> Spec:
    """Read and validate a spec; raises `SpecError` listing every problem."""
    if isinstance(source, (str, os.PathLike)):
        return validate_spec(read_spec_file(source), str(source))
    return validate_spec(dict(source) if isinstance(source, Mapping) else source, DICT_SOURCE)


def validate_spec(data: Any, source: str = DICT_SOURCE) -> Spec:
    """Validate already-parsed spec data; `source` names it in the error."""
    issues = shape_issues(data)
    if issues:
        raise SpecError(source, issues)
    if not isinstance(data, dict):
        raise unreadable(
            source,
            f"expected a mapping with a 'model' section at the top level, got {type_name(data)}",
        )
    structural = _first_per_path(structure_issues(data))
    spec, rules = rule_issues(data)
    issues = structural + [issue for issue in rules if not _covered(issue.path, structural)]
    if issues or spec is None:
        ordered = sorted(issues, key=lambda issue: _document_order(issue.path, data))
        raise SpecError(source, _first_per_path(ordered))
    return spec


def _covered(path: Path, flagged: list[SpecIssue]) -> bool:
    """At or below a flagged path, or a list whose entry is flagged."""
    return any(
        path[: len(issue.path)] == issue.path or _entry_of(issue.path, path) for issue in flagged
    )


def _entry_of(entry: Path, container: Path) -> bool:
    depth = len(container)
    return len(entry) > depth and entry[:depth] == container and isinstance(entry[depth], int)


def _first_per_path(issues: list[SpecIssue]) -> list[SpecIssue]:
    """One message per value: a value can break its type and a rule at once."""
    first: dict[Path, SpecIssue] = {}
    for issue in issues:
        first.setdefault(issue.path, issue)
    return list(first.values())


def _document_order(path: Path, data: Any) -> tuple[int, ...]:
    """Where `path` sits in the file: the position of each key among its siblings."""
    order: list[int] = []
    node = data
    for part in path:
        if isinstance(node, dict):
            keys = list(node)
            order.append(keys.index(part) if part in node else len(keys))
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int):
            order.append(part)
            node = node[part] if part < len(node) else None
        else:
            order.append(0)
            node = None
    return tuple(order)
