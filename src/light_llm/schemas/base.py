"""The base every spec section derives from: unknown keys are errors, values are frozen."""

from typing import Literal

from pydantic import BaseModel, ConfigDict

Auto = Literal["auto"]
"""Marks a value the compiler resolves; the resolved spec shows the number chosen."""


class SpecModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    def explicitly_set(self, field: str) -> bool:
        """True when the user wrote `field`, as opposed to taking its default."""
        return field in self.model_fields_set
