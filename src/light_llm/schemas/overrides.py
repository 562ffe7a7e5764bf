"""Dotted overrides: `--set model.attention.variant=complex --set train.steps=500`.

Each override writes one value into the spec document (the parsed file) before it is
validated, so an override is checked exactly like the same value written in the file:
a bad value or an unknown key is reported at its dotted path, with "did you mean" from
the structure check. Values are YAML (`500` is an integer, `true` a boolean, `null`
none, `[a, b]` a list), except that `1e-3` is read as a number, as YAML 1.2 does.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from light_llm.schemas.describe import type_name
from light_llm.schemas.errors import SpecError, SpecIssue, format_path
from light_llm.schemas.load import validate_spec
from light_llm.schemas.read import read_spec_file
from light_llm.schemas.spec import Spec

OVERRIDE_SOURCE = "--set"
_NUMBER = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")


@dataclass(frozen=True)
class Override:
    """One value to write at a dotted key path of the spec document."""

    path: tuple[str, ...]
    value: Any
    option: str | None = None
    """How the command line said it, where not with --set (e.g. `--steps 500`)."""

    def __str__(self) -> str:
        return f"{format_path(self.path)}={_show(self.value)}"

    def describe(self) -> str:
        return self.option or f"--set {self}"


def parse_override(text: str) -> Override:
    """`model.attention.variant=complex` → Override(("model", "attention", "variant"), "complex")."""
    key, separator, raw = text.partition("=")
    key = key.strip()
    if not separator or not key:
        raise _bad(text, "expected KEY=VALUE with a dotted key, e.g. model.attention.variant=complex")
    parts = tuple(key.split("."))
    for part in parts:
        if not _KEY.fullmatch(part):
            raise _bad(text, f"{key!r} is not a dotted key path (letters, digits, _ and - between dots)")
    return Override(parts, _parse_value(text, raw.strip()))


def parse_overrides(texts: Sequence[str] | None) -> list[Override]:
    return [parse_override(text) for text in texts or ()]


def apply_overrides(document: Mapping[str, Any], overrides: Sequence[Override]) -> dict[str, Any]:
    """A copy of `document` with every override written in; later overrides win."""
    result = copy.deepcopy(dict(document))
    for override in overrides:
        node: Any = result
        for depth, part in enumerate(override.path[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                where = override.path[: depth + 1]
                raise SpecError(
                    OVERRIDE_SOURCE,
                    [SpecIssue(where, f"is {type_name(child)}, not a section: cannot set {format_path(override.path)}")],
                )
            node = child
        node[override.path[-1]] = override.value
    return result


def load_spec_with_overrides(
    source: str | os.PathLike[str] | Mapping[str, Any], overrides: Sequence[Override] = ()
) -> Spec:
    """`load_spec` with `overrides` applied to the document before it is validated; an error
    names the file and the overrides: `tiny.yaml (with --set train.steps=0)`."""
    if isinstance(source, Mapping):
        document: Any = dict(source)
        name = "<dict>"
    else:
        document = read_spec_file(source)
        name = str(source)
    if not overrides or not isinstance(document, dict):
        return validate_spec(document, name)
    described = " ".join(override.describe() for override in overrides)
    return validate_spec(apply_overrides(document, overrides), f"{name} (with {described})")


def overridden_document(source: str | os.PathLike[str], overrides: Sequence[Override]) -> dict[str, Any]:
    """The spec file's document with `overrides` applied, not validated (for writing it out)."""
    document = read_spec_file(source)
    if not isinstance(document, dict):
        validate_spec(document, str(source))  # raises the file's own error
    return apply_overrides(document, overrides)


def _parse_value(text: str, raw: str) -> Any:
    if _NUMBER.fullmatch(raw):
        return float(raw) if any(mark in raw for mark in ".eE") else int(raw)
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as error:
        problem = getattr(error, "problem", None) or "cannot be parsed"
        raise _bad(text, f"the value is not valid YAML ({problem})") from None


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return yaml.safe_dump(value, default_flow_style=True).strip()


def _bad(text: str, message: str) -> SpecError:
    return SpecError(OVERRIDE_SOURCE, [SpecIssue((), f"{text!r}: {message}")])
