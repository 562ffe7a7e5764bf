"""The one registry of model families: spec `model.name` → config class, lowering, module.

Module classes are named by import path so that reading a spec never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class ModelFamily:
    name: str
    config_class: type[BaseModel]
    lower: str  # "module:function" taking (config, *, vocab_size, target) → IR
    module: str  # "module:Class" taking the IR

    def lower_config(self, config: BaseModel, *, vocab_size: int | None, target: str) -> Any:
        return _resolve(self.lower)(config, vocab_size=vocab_size, target=target)

    def module_class(self) -> type:
        return _resolve(self.module)


def _resolve(path: str) -> Any:
    module, attribute = path.split(":")
    return getattr(import_module(module), attribute)


FAMILIES: dict[str, ModelFamily] = {}


def register(family: ModelFamily) -> ModelFamily:
    if family.name in FAMILIES:
        raise ValueError(f"model family {family.name!r} is already registered")
    FAMILIES[family.name] = family
    return family


def family(name: str) -> ModelFamily:
    if name not in FAMILIES:
        raise ValueError(f"unknown model family {name!r}; registered: {sorted(FAMILIES)}")
    return FAMILIES[name]


def _register_builtin() -> None:
    from light_llm.models.transformer.config import TransformerConfig

    register(
        ModelFamily(
            name="transformer",
            config_class=TransformerConfig,
            lower="light_llm.models.transformer.lower:lower",
            module="light_llm.models.transformer.model:Transformer",
        )
    )


_register_builtin()
