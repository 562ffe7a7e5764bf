"""Checks on raw spec data that neither JSON Schema nor pydantic make well: string keys,
finite numbers, bounded depth and size (YAML aliases can expand a small file into
billions of values)."""

from __future__ import annotations

import math

from light_llm.schemas.errors import Path, SpecIssue
from light_llm.schemas.read import MAX_DEPTH

MAX_VALUES = 100_000
"""Most values (mappings, lists and scalars, aliases counted as expanded) in one spec."""


def shape_issues(data: object) -> list[SpecIssue]:
    """Problems with the shape of `data`; the walk is iterative and stops at the limits."""
    issues: list[SpecIssue] = []
    pending: list[tuple[Path, object]] = [((), data)]
    visited = 0
    while pending:
        path, value = pending.pop()
        visited += 1
        if visited > MAX_VALUES:
            return [
                SpecIssue((), f"too many values (more than {MAX_VALUES:,}, YAML aliases expanded)")
            ]
        if len(path) > MAX_DEPTH:
            return [SpecIssue(path[:MAX_DEPTH], f"nested deeper than {MAX_DEPTH} levels")]
        if isinstance(value, dict):
            for key, item in reversed(value.items()):
                if isinstance(key, str):
                    pending.append(((*path, key), item))
                else:
                    issues.append(SpecIssue(path, _non_string_key(key)))
        elif isinstance(value, list):
            pending.extend(
                ((*path, index), item) for index, item in reversed(list(enumerate(value)))
            )
        elif isinstance(value, float) and not math.isfinite(value):
            issues.append(SpecIssue(path, f"got {value}; allowed: a finite number"))
    return issues


def _non_string_key(key: object) -> str:
    return (
        f"key {key!r} ({type(key).__name__}) is not a string (YAML reads unquoted "
        f"yes/no/on/off/null and numbers as such: quote the key)"
    )
