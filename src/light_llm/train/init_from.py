"""Starting weights for `lightllm train --init-from MODEL_DIR`: a model folder (from
`lightllm import-hf`, `compile --out` or a finished run) whose model must be the one the
spec builds, key for key; its weights (safetensors) replace the random initialisation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from light_llm.atomic_file import write_atomically
from light_llm.model_folder import ORIGIN_FILE, ModelFolder, load_model_folder
from light_llm.train.errors import TrainingError


def open_init_folder(path: str | Path, model_section) -> ModelFolder:
    """The model folder at `path`, once its model equals `model_section` (resolved)."""
    folder = load_model_folder(path)  # ModelFolderError names what is missing
    differences = model_differences(model_section, folder.spec.model)
    if differences:
        raise TrainingError(
            f"--init-from {folder.path}: the spec's model differs from the folder's "
            f"({'; '.join(differences)}); use the folder's model section, or leave SPEC out"
        )
    return folder


def model_differences(ours, theirs) -> list[str]:
    """'model.KEY: spec A, folder B' for each differing (nested) key."""
    mine, folder = _flat(ours.model_dump(mode="json")), _flat(theirs.model_dump(mode="json"))
    return [
        f"model.{key}: spec {mine.get(key)!r}, folder {folder.get(key)!r}"
        for key in sorted(set(mine) | set(folder))
        if mine.get(key) != folder.get(key)
    ]


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flat(item, f"{prefix}{key}."))
        return flat
    return {prefix.removesuffix("."): value}


def run_origin(folder: ModelFolder) -> dict[str, Any]:
    """origin.json of a run started from `folder`: the folder's own origin (an imported
    model's hf_model_type) and the folder itself."""
    return {**folder.origin, "init_from": str(folder.path.resolve())}


def carried_tokenizer_files(folder: ModelFolder, tokenizer_path: Path) -> list[Path]:
    """The folder's tokenizer_config.json and generation_config.json (an imported chat
    template, special and end-of-turn tokens) when the run tokenizes with the folder's own
    tokenizer.json."""
    from tokenizers import Tokenizer

    from light_llm.chat_template import GENERATION_CONFIG, TOKENIZER_CONFIG

    files = [folder.path / name for name in (TOKENIZER_CONFIG, GENERATION_CONFIG) if (folder.path / name).is_file()]
    if not files or folder.tokenizer_path is None:
        return []
    same = Tokenizer.from_file(str(tokenizer_path)).to_str() == Tokenizer.from_file(str(folder.tokenizer_path)).to_str()
    return files if same else []


def write_origin(run: Path, origin: dict[str, Any]) -> None:
    """RUN/origin.json, written when the run starts (atomically), kept by every later save."""
    import json

    run.mkdir(parents=True, exist_ok=True)
    write_atomically(run / ORIGIN_FILE, json.dumps(origin, indent=2) + "\n")
