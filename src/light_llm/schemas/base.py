"""The base every spec section derives from: unknown keys are errors, values are frozen."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from light_llm.errors import LightLLMError

Auto = Literal["auto"]
"""Marks a value the compiler resolves; the resolved spec shows the number chosen."""


class SpecModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

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
