"""The JSON Schema (Draft 2020-12) of a spec file, generated from the pydantic models.

The committed copy at `schemas/light_llm.schema.json` must equal `render_schema()`;
`lightllm schema` prints it, and a test fails when the committed file is stale.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, NoDefault
from pydantic_core import core_schema

from light_llm.schemas.conditional import JsonSchema, conditional_rules
from light_llm.schemas.spec import Spec

DRAFT = "https://json-schema.org/draft/2020-12/schema"
COMMITTED_PATH = "schemas/light_llm.schema.json"


class _SpecSchemaGenerator(GenerateJsonSchema):
    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        # A section left out takes all its defaults: show that as `{}` rather than nothing.
        factory = schema.get("default_factory")
        if isinstance(factory, type) and issubclass(factory, BaseModel):
            return {}
        return schema.get("default", NoDefault)


@cache
def spec_json_schema() -> JsonSchema:
    """The schema as a dict (cached: treat it as read-only)."""
    schema = Spec.model_json_schema(mode="validation", schema_generator=_SpecSchemaGenerator)
    for model, rules in conditional_rules().items():
        (schema if model is Spec else schema["$defs"][model.__name__])["allOf"] = rules
    return {"$schema": DRAFT, **schema}


def render_schema() -> str:
    """The exact text of the committed schema file."""
    return json.dumps(spec_json_schema(), indent=2, ensure_ascii=False) + "\n"
