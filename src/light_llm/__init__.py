"""light_llm: a declarative compiler for small decoder-only language models."""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {"load_spec": "light_llm.schemas.load"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'light_llm' has no attribute {name!r}")


__all__ = ["__version__", "load_spec"]
