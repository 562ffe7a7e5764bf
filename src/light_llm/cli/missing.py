"""A command that needs a package the install lacks: one line naming what to install.

The plain install (`pip install light_llm`) runs exports and validates specs; building the
model in PyTorch (train, export, verify, import-hf, generate and serve on a model folder)
needs the torch extra, whose packages are imported under these names."""

from __future__ import annotations

EXTRA = "torch"
EXTRA_MODULES = frozenset({"torch", "onnxscript", "safetensors", "gguf", "tensorboard", "matplotlib"})


def missing_module_line(error: ModuleNotFoundError) -> str | None:
    """What to tell the user for `error`, or None when it is not a missing third-party
    package (a module of light_llm itself missing is a bug)."""
    module = (error.name or "").split(".")[0]
    if not module or module == "light_llm":
        return None
    if module in EXTRA_MODULES:
        return f"this command needs {module}, which is not installed: pip install 'light_llm[{EXTRA}]'"
    return f"this command needs the Python module {module!r}, which is not installed"
