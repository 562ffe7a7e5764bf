"""The spec reference: Markdown rendered from the spec's JSON Schema.

One section per mapping of the spec, in file order (top level, `model`,
`model.attention`, ..., `data`, `train`, `export`), each with a table of its keys: type,
default, allowed values, description; then the if/then/else rules the schema carries.
Everything comes from `spec_json_schema()`, so the reference cannot say what the
validator does not check. The committed copy at `docs/spec-reference.md` must equal
`render_reference()`; `lightllm schema --markdown --out docs/spec-reference.md` rewrites
it, and a test fails when it is stale.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from light_llm.schemas.conditional import JsonSchema
from light_llm.schemas.describe import _BOUNDS, _resolve

COMMITTED_PATH = "docs/spec-reference.md"
REGENERATE = "lightllm schema --markdown --out docs/spec-reference.md"

_TYPE_WORDS = {
    "integer": "integer",
    "number": "number",
    "string": "string",
    "boolean": "boolean",
    "null": "null",
    "object": "mapping",
    "array": "list",
}


def render_reference(schema: JsonSchema | None = None) -> str:
    """The exact text of `docs/spec-reference.md` (for the spec's schema by default)."""
    if schema is None:
        from light_llm.schemas.json_schema import spec_json_schema

        schema = spec_json_schema()
    sections = list(_sections(schema, (), schema))
    lines = [
        "# Spec reference",
        "",
        f"<!-- Generated from the JSON Schema by `{REGENERATE}`; do not edit by hand. -->",
        "",
        "Every key a spec file (JSON or YAML) may hold, generated from the spec's JSON Schema",
        "(`schemas/light_llm.schema.json`, Draft 2020-12). Unknown keys are errors at every",
        "level. A section left out takes all its defaults. `auto` marks a value the compiler",
        "resolves; `lightllm compile SPEC` prints the resolved spec with the number chosen.",
        "Rules that need arithmetic (for example `num_heads` divisible by `num_kv_heads`) are",
        f"checked when the spec loads, after the schema: see [{ONLY_HERE}](#{_anchor(ONLY_HERE)}).",
        "",
        "Sections:",
        "",
        *(f"- [{_title(path)}](#{_anchor(_title(path))})" for path, _ in sections),
    ]
    lines.append(f"- [{ONLY_HERE}](#{_anchor(ONLY_HERE)})")
    for path, section in sections:
        lines += ["", *_render_section(path, section, schema)]
    lines += ["", *_only_light_llm()]
    return "\n".join(lines) + "\n"


ONLY_HERE = "Rules only light_llm checks"


def _only_light_llm() -> list[str]:
    from light_llm.schemas.cross_field import ONLY_LIGHT_LLM_RULES

    return [
        f"## {ONLY_HERE}",
        "",
        "JSON Schema cannot compare two values, so a validator using the schema alone accepts",
        "specs that break these rules; `lightllm validate` refuses them, at the path shown.",
        "Every other spec is accepted or refused alike by the schema and by light_llm.",
        "",
        *(f"- `{path}`: {rule}" for path, rule in ONLY_LIGHT_LLM_RULES),
    ]


def _sections(
    section: JsonSchema, path: tuple[str, ...], root: JsonSchema
) -> Iterator[tuple[tuple[str, ...], JsonSchema]]:
    """Each mapping of the spec with its dotted path, depth first in key order."""
    yield path, section
    for key, field in section.get("properties", {}).items():
        families = _families(field, root)
        for index, (name, target) in enumerate(families):
            yield from _sections(target, (*path, key if index == 0 else f"{key} (name: {name})"), root)
        target = _section_of(field, root)
        if target is not None and not families:
            yield from _sections(target, (*path, key), root)


def _families(field: JsonSchema, root: JsonSchema) -> list[tuple[str, JsonSchema]]:
    """The model section's union: (family name, its section) per if/then/else link."""
    found = []
    while "if" in field and "$ref" in field.get("then", {}):
        name = field["if"]["properties"]["name"]["const"]
        found.append((name, _resolve(field["then"]["$ref"], root)))
        field = field.get("else", {})
    return found


def _section_of(field: JsonSchema, root: JsonSchema) -> JsonSchema | None:
    families = _families(field, root)
    if families:
        return families[0][1]
    refs = [option for option in field.get("anyOf", []) if "$ref" in option]
    if "$ref" not in field and len(refs) != 1:
        return None
    target = _resolve(field["$ref"] if "$ref" in field else refs[0]["$ref"], root)
    return target if target.get("type") == "object" else None


def _render_section(path: tuple[str, ...], section: JsonSchema, root: JsonSchema) -> list[str]:
    lines = [f"## {_title(path)}", ""]
    if section.get("description"):
        lines += [_one_line(section["description"]), ""]
    required = set(section.get("required", []))
    lines += [
        "| key | type | default | allowed values | description |",
        "|---|---|---|---|---|",
    ]
    for key, field in section.get("properties", {}).items():
        target = _section_of(field, root)
        if target is not None:
            child = _title((*path, key))
            kind, allowed = "mapping", f"see [{child}](#{_anchor(child)})"
            if "anyOf" in field:  # a value or a mapping (e.g. rope_scaling: a number or an object)
                kind = _type(field, root)
                allowed = _allowed(field, root).replace("any mapping", f"a mapping: {allowed}")
        else:
            kind, allowed = _type(field, root), _allowed(field, root)
        cells = [f"`{key}`", kind, _default(field, key in required), allowed, field.get("description", "")]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    rules = [line for rule in section.get("allOf", []) for line in _rule(rule)]
    if rules:
        lines += ["", "Rules:", "", *rules]
    return lines


def _title(path: tuple[str, ...]) -> str:
    return f"`{'.'.join(path)}`" if path else "Top level"


def _anchor(title: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def _type(field: JsonSchema, root: JsonSchema) -> str:
    if "$ref" in field:
        return _type(_resolve(field["$ref"], root), root)
    if "anyOf" in field:
        return " or ".join(_type(option, root) for option in field["anyOf"])
    if field.get("const") == "auto":
        return "`auto`"
    kinds = field.get("type", [])
    words = [_TYPE_WORDS.get(kind, kind) for kind in ([kinds] if isinstance(kinds, str) else kinds)]
    if "items" in field and "array" in kinds:
        words = [f"list of {_type(field['items'], root)}s" if w == "list" else w for w in words]
    return " or ".join(words) or "any"


def _allowed(field: JsonSchema, root: JsonSchema) -> str:
    if "$ref" in field:
        return _allowed(_resolve(field["$ref"], root), root)
    if "enum" in field:
        return ", ".join(_code(option) for option in field["enum"])
    if "const" in field:
        return _code(field["const"])
    if "anyOf" in field:
        parts = [_allowed(option, root) for option in field["anyOf"]]
        if all(part == "any" for part in parts):
            return "any"
        return " or ".join(
            f"any {_type(option, root)}" if part == "any" else part
            for option, part in zip(field["anyOf"], parts)
        )
    bounds = [f"{sign} {field[key]}" for key, sign in _BOUNDS if key in field]
    if bounds:
        return " and ".join(bounds)
    return {"boolean": "`true`, `false`", "null": "`null`"}.get(field.get("type"), "any")


def _default(field: JsonSchema, required: bool) -> str:
    if "default" not in field:
        return "**required**" if required else "—"
    value = field["default"]
    if value == {} and "$ref" in field:
        return "`{}` (every default)"
    return _code(value)


def _rule(rule: JsonSchema) -> list[str]:
    """An if/then/else rule of conditional.py as bullet points."""
    (key, test), = _leaves(rule.get("if", {}))
    value = _code(test["const"]) if "const" in test else " or ".join(_code(v) for v in test["enum"])
    lines = []
    for branch, verb in (("then", "is"), ("else", "is not")):
        if branch not in rule:
            continue
        consequences = [
            f"`{name}`: {_one_line(spec.get('description', 'restricted'))}"
            for name, spec in _leaves(rule[branch])
        ]
        lines.append(f"- when `{key}` {verb} {value}: " + "; ".join(consequences))
    return lines


def _leaves(schema: JsonSchema, prefix: str = "") -> list[tuple[str, JsonSchema]]:
    """(dotted key, schema) for each property that has no properties of its own."""
    found = []
    for name, child in schema.get("properties", {}).items():
        if "properties" in child:
            found += _leaves(child, f"{prefix}{name}.")
        else:
            found.append((f"{prefix}{name}", child))
    return found


def _code(value: Any) -> str:
    return f"`{value}`" if isinstance(value, str) else f"`{json.dumps(value)}`"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")
