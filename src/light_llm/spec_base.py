"""The base every spec section derives from: unknown keys are errors, values are frozen,
types are strict (no string or boolean coercion), numbers finite and bounded.

Pydantic accepts exactly what the published JSON Schema accepts, up to the cross-field
rules of `problems()`: hence `strict=True` (no "64" for 64, no true for 1, no 0 for
false) and `Integer`/`Number`, whose bounds appear in the schema as minimum/maximum.
JSON Schema counts 64.0 as an integer and 1 as a number, so pydantic does too.
"""

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    model_validator,
)
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from light_llm.errors import LightLLMError

Auto = Literal["auto"]
"""Marks a value the compiler resolves; the resolved spec shows the number chosen."""

LIMIT = "Limit: "
"""Starts the sentence of a field's description that says why its bounds are where they
are; the loader adds that sentence to an out-of-range error."""


def _json_number(value: Any) -> Any:
    """A JSON number as JSON Schema sees it: a boolean is not one, 64.0 is the integer 64."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number here")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def Integer(low: int, high: int) -> Any:  # noqa: N802 - used as a type
    """An integer in [low, high]; 64.0 counts as 64, booleans and strings are refused."""
    return Annotated[int, Field(ge=low, le=high), BeforeValidator(_json_number)]


def Number(
    *, gt: float | None = None, ge: float | None = None, lt: float | None = None,
    le: float | None = None,
) -> Any:  # noqa: N802 - used as a type
    """A finite number within the bounds; an integer counts, a boolean does not."""
    return Annotated[
        float, Field(gt=gt, ge=ge, lt=lt, le=le, allow_inf_nan=False), BeforeValidator(_not_bool)
    ]


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number here")
    return value


JsonInteger = BeforeValidator(_json_number)
"""For a `Literal` of integers (spec_version): refuses true, takes 1.0 as 1."""


class SpecModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, strict=True, allow_inf_nan=False
    )

    def explicitly_set(self, field: str) -> bool:
        """True when the user wrote `field`, as opposed to taking its default."""
        return field in self.model_fields_set


Problem = tuple[str, str]
"""A broken cross-field rule: (dotted path relative to the section, message)."""


class RuleViolation(LightLLMError):
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
