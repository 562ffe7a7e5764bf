"""Config (pydantic) and IR (frozen dataclass) of the MLP language model, and its lowering."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import PositiveInt

from light_llm.spec_base import SpecModel


class MLPLanguageModelConfig(SpecModel):
    name: Literal["mlp_lm"] = "mlp_lm"
    vocab_size: PositiveInt
    d_model: PositiveInt = 16
    context: PositiveInt = 3
    hidden: PositiveInt = 32


@dataclass(frozen=True)
class MLPLanguageModelIR:
    vocab_size: int
    d_model: int
    context: int
    hidden: int
    family: str = "mlp_lm"


def lower(config: MLPLanguageModelConfig, *, vocab_size: int | None, target: str) -> MLPLanguageModelIR:
    return MLPLanguageModelIR(config.vocab_size, config.d_model, config.context, config.hidden)
