"""The whole spec file: a model plus optional data, train and export sections."""

from typing import Annotated, Any, Literal, Union

from pydantic import ConfigDict, Discriminator, Field, Tag

from light_llm.models.registry import FAMILIES
from light_llm.spec_base import CheckedSection, JsonInteger, Problem
from light_llm.schemas.data import DataConfig
from light_llm.schemas.export import ExportConfig
from light_llm.schemas.train import TrainConfig

SPEC_VERSION = 1
DEFAULT_FAMILY = "transformer"  # a model section without `name`


def _family_name(section: Any) -> Any:
    if isinstance(section, dict):
        return section.get("name", DEFAULT_FAMILY)
    return getattr(section, "name", None)


ModelSection = Annotated[
    Union[tuple(Annotated[entry.config_class, Tag(name)] for name, entry in FAMILIES.items())],
    Discriminator(
        _family_name,
        custom_error_type="model_family",
        custom_error_message=f"not a model family; allowed: {', '.join(repr(name) for name in FAMILIES)}",
    ),
]


def _families_in_json_schema(schema: dict[str, Any]) -> None:
    """The model section as a JSON Schema discriminated union: `name` picks the family's
    $defs entry (if/then/else, so that each error points into the chosen family)."""
    model = schema["properties"]["model"]
    refs = {name: option["$ref"] for name, option in zip(FAMILIES, model["oneOf"])}
    chain: dict[str, Any] = {"properties": {"name": {"enum": list(refs)}}, "required": ["name"]}
    for name, ref in reversed(refs.items()):
        condition: dict[str, Any] = {"properties": {"name": {"const": name}}}
        if name != DEFAULT_FAMILY:
            condition["required"] = ["name"]
        chain = {"if": condition, "then": {"$ref": ref}, "else": chain}
    schema["properties"]["model"] = {
        "description": model["description"] + f" `name` chooses the family (default {DEFAULT_FAMILY!r}).",
        "type": "object",
        **chain,
    }


class Spec(CheckedSection):
    """A light_llm spec: one file describes the model, its data, training and export."""

    schema_: Annotated[str, Field(max_length=4096)] | None = Field(
        None, alias="$schema", description="Optional URI of the JSON Schema, for editors."
    )
    spec_version: Annotated[Literal[1], JsonInteger] = Field(SPEC_VERSION, description="Version of the spec format.")
    model_config = ConfigDict(json_schema_extra=_families_in_json_schema)

    model: ModelSection = Field(description="The model architecture.")
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
