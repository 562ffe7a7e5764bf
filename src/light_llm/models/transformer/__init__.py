"""The Transformer family: `TransformerConfig` (the spec's model section) and
`Transformer` (the nn.Module). Importing the config does not import torch."""

from typing import Any

from light_llm.models.transformer.config import TransformerConfig


def __getattr__(name: str) -> Any:
    if name == "Transformer":
        from light_llm.models.transformer.model import Transformer

        return Transformer
    raise AttributeError(name)


__all__ = ["Transformer", "TransformerConfig"]
