"""What transformers.js (`@huggingface/transformers`) needs to load an export folder as it
is, beside config.json: the graph under `onnx/` (its default `onnx/model.onnx`) and
`generation_config.json`.
`onnx/model.onnx` is a hard link to the root's `model.onnx` (the one file everything else
names: light_llm.json, genai_config.json, the runtime and the examples), so the weights
are on disk once; a filesystem without hard links gets a copy."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from light_llm.exports.folder import write_json

SUBFOLDER = "onnx"


def write_transformers_js_files(staging: Path, model_file: str, *, max_seq_len: int,
                                eos_id: int | None, pad_id: int | None) -> list[str]:
    """Where config.json was written (transformers.js needs it): links `model_file` (and its
    external data) into `onnx/` and writes generation_config.json. Returns what it wrote."""
    if not (staging / "config.json").is_file():
        return []
    subfolder = staging / SUBFOLDER
    subfolder.mkdir()
    for item in sorted(staging.iterdir()):
        if item.is_file() and item.name.startswith(model_file):
            _link(item, subfolder / item.name)
    ids = {name: value for name, value in (("bos_token_id", eos_id), ("eos_token_id", eos_id),
                                           ("pad_token_id", pad_id)) if value is not None}
    write_json(staging / "generation_config.json", {**ids, "max_length": max_seq_len})
    return [SUBFOLDER, "generation_config.json"]


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
