"""Specs shipped inside the package, so they exist wherever light_llm is installed."""

from importlib.resources import files
from pathlib import Path


def default_spec_path() -> Path:
    """The built-in default spec (the same model as examples/specs/tiny.yaml)."""
    return Path(str(files(__name__) / "default.yaml"))
