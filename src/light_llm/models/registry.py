"""The one registry of model families: spec `model.name` → config class, lowering, module.

Each family lives in its own folder under models/ (config.py, its IR and lowering, its
modules) and is registered once, in `BUILTIN` below. The spec's `model` section is the
union of the registered config classes, told apart by `name`.

Everything but the config class is named by import path ("module:attribute"), so reading
a spec never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any

from pydantic import BaseModel

from light_llm.errors import LightLLMError


class ModelFamilyError(LightLLMError):
    """A family name nobody registered, or one registered twice."""


@dataclass(frozen=True)
class ModelFamily:
    name: str
    config: str  # "module:Class": the pydantic config, with `name: Literal[<name>]`
    lower: str  # "module:function" taking (config, *, vocab_size, target) → IR
    module: str  # "module:Class" taking the IR; forward(tokens) → logits
    resolve: str | None = None  # "module:function" (config, vocab_size) → resolved model dict
    summary: str | None = None  # "module:function" (IR) → the compile report (rich renderable)

    @property
    def config_class(self) -> type[BaseModel]:
        return _resolve(self.config)

    def lower_config(self, config: BaseModel, *, vocab_size: int | None, target: str) -> Any:
        return _resolve(self.lower)(config, vocab_size=vocab_size, target=target)

    def module_class(self) -> type:
        return _resolve(self.module)

    def resolve_config(self, config: BaseModel, vocab_size: int | None) -> dict[str, Any]:
        """The model section with every auto resolved (default: vocab_size only)."""
        if self.resolve is not None:
            return _resolve(self.resolve)(config, vocab_size)
        data = config.model_dump(by_alias=True, exclude_none=True)
        if vocab_size is not None and data.get("vocab_size") == "auto":
            data["vocab_size"] = vocab_size
        return data

    def describe(self, config: BaseModel) -> str:
        """One line on a validated config, for `lightllm validate`: the config's own
        `describe()` where it has one, else its name and sizes."""
        if hasattr(config, "describe"):
            return config.describe()
        sizes = ", ".join(f"{key} {getattr(config, key)}" for key in ("num_layers", "d_model")
                          if hasattr(config, key))
        return f"{self.name}, {sizes}" if sizes else self.name

    def summarize(self, ir: Any) -> Any:
        """The compile report (default: the IR's fields, one per line)."""
        if self.summary is not None:
            return _resolve(self.summary)(ir)
        from rich.text import Text

        fields = ir.to_dict() if hasattr(ir, "to_dict") else vars(ir)
        return Text("\n".join(f"{key:<19} {value}" for key, value in fields.items()))


def _resolve(path: str) -> Any:
    module, attribute = path.split(":")
    return getattr(import_module(module), attribute)


BUILTIN = (
    ModelFamily(
        name="transformer",
        config="light_llm.models.transformer.config:TransformerConfig",
        lower="light_llm.models.transformer.lower:lower",
        module="light_llm.models.transformer.model:Transformer",
        resolve="light_llm.models.transformer.resolve:resolve",
        summary="light_llm.models.transformer.summary:summary",
    ),
    ModelFamily(
        name="mixer",
        config="light_llm.models.mixer.config:MixerConfig",
        lower="light_llm.models.mixer.config:lower",
        module="light_llm.models.mixer.model:Mixer",
        summary="light_llm.models.mixer.summary:summary",
    ),
)

FAMILIES: dict[str, ModelFamily] = {entry.name: entry for entry in BUILTIN}


def register(family: ModelFamily) -> ModelFamily:
    """Add a family at run time (tests, plugins); the spec's model union is rebuilt."""
    if family.name in FAMILIES:
        raise ModelFamilyError(f"model family {family.name!r} is already registered")
    FAMILIES[family.name] = family
    return family


def family(name: str) -> ModelFamily:
    if name not in FAMILIES:
        raise ModelFamilyError(f"unknown model family {name!r}; registered: {sorted(FAMILIES)}")
    return FAMILIES[name]


def config_classes() -> tuple[type[BaseModel], ...]:
    return tuple(entry.config_class for entry in FAMILIES.values())
