"""The whole spec file: a model plus optional data, train and export sections."""

from typing import Annotated, Literal

from pydantic import Field

from light_llm.models.transformer.config import TransformerConfig
from light_llm.schemas.base import CheckedSection, JsonInteger, Problem
from light_llm.schemas.data import DataConfig
from light_llm.schemas.export import ExportConfig
from light_llm.schemas.train import TrainConfig

SPEC_VERSION = 1


class Spec(CheckedSection):
    """A light_llm spec: one file describes the model, its data, training and export."""

    schema_: Annotated[str, Field(max_length=4096)] | None = Field(
        None, alias="$schema", description="Optional URI of the JSON Schema, for editors."
    )
    spec_version: Annotated[Literal[1], JsonInteger] = Field(SPEC_VERSION, description="Version of the spec format.")
    model: TransformerConfig = Field(description="The model architecture.")
    data: DataConfig = Field(
        default_factory=DataConfig, description="Training text and tokenizer."
    )
    train: TrainConfig = Field(
        default_factory=TrainConfig, description="Optimisation, precision, evaluation, checkpoints."
    )
    export: ExportConfig = Field(
        default_factory=ExportConfig,
        description="Export format, quantization and parity tolerances.",
    )

    def problems(self) -> list[Problem]:
        if self.data.tokenizer == "bpe" and self.model.vocab_size == "auto":
            return [("model.vocab_size", "'auto' cannot be used with data.tokenizer 'bpe'; allowed: "
                     "the vocabulary size to train BPE to, an integer > 0 (e.g. 8192)")]
        return []

    def to_json(self, indent: int | None = 2) -> str:
        """JSON that validates back to this spec: the values that were set (for a resolved
        spec, every value), without options that do not apply to the chosen variants."""
        return self.model_dump_json(by_alias=True, exclude_unset=True, indent=indent)
