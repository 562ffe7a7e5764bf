"""What transformers.js (`@huggingface/transformers`) needs to load an export folder as it
is, beside config.json and generation_config.json (exports/interop_files.py): the graph
under `onnx/` (its default `onnx/model.onnx`).
`onnx/model.onnx` is a hard link to the root's `model.onnx` (the one file everything else
names: light_llm.json, genai_config.json, the runtime and the examples), so the weights
are on disk once; a filesystem without hard links gets a copy."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

SUBFOLDER = "onnx"


def write_transformers_js_files(staging: Path, model_file: str) -> list[str]:
    """Where config.json was written (transformers.js needs it): links `model_file` (and its
    external data) into `onnx/`. Returns what it wrote."""
    if not (staging / "config.json").is_file():
        return []
    subfolder = staging / SUBFOLDER
    subfolder.mkdir()
    for item in sorted(staging.iterdir()):
        if item.is_file() and item.name.startswith(model_file):
            _link(item, subfolder / item.name)
    return [SUBFOLDER]


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
