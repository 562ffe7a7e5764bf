"""The compile report of any registered family, from its IR (the family's `summary`)."""

from __future__ import annotations

from typing import Any

from light_llm.formatting import human
from light_llm.models.registry import family

__all__ = ["compile_summary", "human"]


def compile_summary(ir: Any) -> Any:
    """The family's report on `ir` (a rich renderable), ready for a rich Console."""
    return family(ir.family).summarize(ir)
