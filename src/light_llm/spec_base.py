"""The base every spec section derives from: unknown keys are errors, values are frozen."""

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, GetJsonSchemaHandler, model_validator
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

Auto = Literal["auto"]
"""Marks a value the compiler resolves; the resolved spec shows the number chosen."""


class SpecModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    def explicitly_set(self, field: str) -> bool:
        """True when the user wrote `field`, as opposed to taking its default."""
        return field in self.model_fields_set


Problem = tuple[str, str]
"""A broken cross-field rule: (dotted path relative to the section, message)."""


class RuleViolation(ValueError):
    """Raised by a section whose cross-field rules fail; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))


class CheckedSection(SpecModel):
    def problems(self) -> list[Problem]:
        return []

    @model_validator(mode="after")
    def _check_rules(self) -> "CheckedSection":
        found = self.problems()
        if found:
            raise RuleViolation(found)
        return self


class OneOf:
    """A string field whose allowed values are the keys of an option table, read when a
    value is validated and when the JSON Schema is generated (so an entry registered later
    is allowed too). Use as `Annotated[str, OneOf(TABLE, "intro")]`; the schema's
    description is the intro followed by each entry's own description."""

    def __init__(self, table: Mapping[str, Any], intro: str = ""):
        self.table = table
        self.intro = intro

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(str))

    def _check(self, value: str) -> str:
        if value not in self.table:
            expected = ", ".join(repr(name) for name in self.table)
            raise PydanticCustomError(
                "literal_error", "Input should be {expected}", {"expected": expected}
            )
        return value

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        described = "; ".join(f"{name}: {entry.description}" for name, entry in self.table.items())
        return {
            "description": f"{self.intro} {described}." if self.intro else f"{described}.",
            "enum": list(self.table),
            "type": "string",
        }
