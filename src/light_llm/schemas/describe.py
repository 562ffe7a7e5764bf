"""Words for values and for what a JSON Schema allows, used in error messages:
`got -64; allowed: an integer > 0`."""

from __future__ import annotations

import json
from typing import Any

from light_llm.schemas.conditional import JsonSchema
from light_llm.formatting import shorten

_MAX_SHOWN = 60
_TYPE_WORDS = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "null": "null",
    "object": "a mapping",
    "array": "a list",
}
_PLURALS = {
    "a string": "strings",
    "an integer": "integers",
    "a number": "numbers",
    "a mapping": "mappings",
}
_BOUNDS = (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<"))


def show(value: Any) -> str:
    """A value as the user wrote it, shortened: 'gqa', 8, null, true, {...}."""
    if isinstance(value, str):
        text = repr(value)
    elif value is None or isinstance(value, (bool, int, float, list, dict)):
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    else:
        text = f"{value!r} ({type(value).__name__})"
    return shorten(text, _MAX_SHOWN)


def type_name(value: Any) -> str:
    """The JSON name of a value's type: 'a string', 'a mapping', ..."""
    for python_type, word in (
        (bool, "boolean"),
        (int, "integer"),
        (float, "number"),
        (str, "string"),
        (dict, "object"),
        (list, "array"),
        (type(None), "null"),
    ):
        if isinstance(value, python_type):
            return _TYPE_WORDS[word]
    return f"a {type(value).__name__}"


def allowed(schema: JsonSchema | bool, root: JsonSchema) -> str:
    """What `schema` accepts, in words; `$ref`s are looked up in `root`."""
    if schema is True or schema == {}:
        return "anything"
    if schema is False:
        return "nothing"
    if "$ref" in schema:
        target = _resolve(schema["$ref"], root)
        return (
            f"a mapping ({target.get('title', 'section')})"
            if target.get("type") == "object"
            else allowed(target, root)
        )
    if "const" in schema:
        return show(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(show(option) for option in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " or ".join(allowed(option, root) for option in schema[key])
    return _typed(schema, root)


def _typed(schema: JsonSchema, root: JsonSchema) -> str:
    kinds = schema.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    words = " or ".join(_TYPE_WORDS.get(kind, kind) for kind in kinds) or "a value"
    bounds = [f"{sign} {schema[key]}" for key, sign in _BOUNDS if key in schema]
    if bounds:
        words += " " + " and ".join(bounds)
    if "items" in schema and "array" in kinds:
        item = allowed(schema["items"], root)
        words += f" of {_PLURALS.get(item, f'({item})')}"
    return words


def _resolve(reference: str, root: JsonSchema) -> JsonSchema:
    node: Any = root
    for part in reference.removeprefix("#/").split("/"):
        node = node[part]
    return node
