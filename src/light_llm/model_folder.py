"""The model folder: what `lightllm compile --out` and `lightllm train` leave behind and
what every export reads.

    spec.resolved.json   the spec with every auto resolved
    model.safetensors    the weights (tied weights stored once)
    tokenizer.json       the tokenizer, where one is known
    origin.json          where the weights came from, where known: {"hf_model_type": "phi3",
                         "hf_source": "/abs/path/of/the/hf/folder"} for `lightllm import-hf`, plus {"init_from": DIR} for a run that
                         `lightllm train --init-from DIR` started from DIR's weights

Writes are atomic: files are written to a staging folder (light_llm/staging.py), synced,
then renamed into place.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from light_llm.errors import LightLLMError
from light_llm.staging import merge_into_folder, staged_folder

SPEC_FILE = "spec.resolved.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
ORIGIN_FILE = "origin.json"


class ModelFolderError(LightLLMError):
    """A folder that is not a light_llm model folder, or whose files are damaged."""


@dataclass
class ModelFolder:
    path: Path
    spec: "Spec"  # noqa: F821
    tokenizer_path: Path | None
    origin: dict = field(default_factory=dict)  # origin.json, {} where absent

    @property
    def hf_model_type(self) -> str | None:
        """The Hugging Face model_type the weights were imported from, where known."""
        found = self.origin.get("hf_model_type")
        return found if isinstance(found, str) else None

    def build(self, target: str = "eager"):
        """The module with the folder's weights, lowered for `target`."""
        from light_llm.compiler.build import build
        from light_llm.compiler.pipeline import lower_spec

        model = build(lower_spec(self.spec, target=target))
        self.load_weights_into(model)
        return model.eval()

    def load_weights_into(self, model) -> None:
        """The folder's weights (safetensors) into `model`, every tensor by name and shape."""
        from safetensors.torch import load_file

        try:
            state = load_file(self.path / WEIGHTS_FILE)
        except Exception as error:  # safetensors raises several types for damaged files
            raise ModelFolderError(f"{self.path / WEIGHTS_FILE}: cannot read weights: {error}") from None
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as error:  # tensors of other shapes: torch lists every one
            raise ModelFolderError(f"{self.path / WEIGHTS_FILE}: weights do not match the spec "
                                   f"({_size_mismatches(str(error))}); compile or train it again") from None
        missing = [name for name in missing if not _is_tied_alias(model, name)]
        if missing or unexpected:
            raise ModelFolderError(
                f"{self.path / WEIGHTS_FILE}: weights do not match the spec "
                f"(missing: {missing[:5]}, unexpected: {unexpected[:5]})"
            )


def _size_mismatches(report: str) -> str:
    """torch's load_state_dict report → 'size mismatch: NAME is [..] in the file, [..] in
    the spec (and N more)'."""
    found = re.findall(r"size mismatch for (\S+): copying a param with shape torch.Size\((\[.*?\])\) from "
                       r"checkpoint, the shape in current model is torch.Size\((\[.*?\])\)", report)
    if not found:
        return (report.strip().splitlines() or ["RuntimeError"])[0][:160]
    name, file_shape, spec_shape = found[0]
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return f"size mismatch: {name} is {file_shape} in the file, {spec_shape} in the spec{more}"


def _is_tied_alias(model, name: str) -> bool:
    return name == "lm_head.weight" and model.ir.tie_embeddings


def load_model_folder(path: str | os.PathLike) -> ModelFolder:
    from light_llm.schemas.spec import Spec

    folder = Path(path)
    if not folder.is_dir():
        raise ModelFolderError(f"{folder}: not a folder")
    for required in (SPEC_FILE, WEIGHTS_FILE):
        if not (folder / required).is_file():
            raise ModelFolderError(
                f"{folder}: not a light_llm model folder (no {required}); "
                "make one with `lightllm compile SPEC --out DIR` or `lightllm train`"
            )
    try:
        spec = Spec.model_validate(json.loads((folder / SPEC_FILE).read_text()))
    except Exception as error:
        raise ModelFolderError(f"{folder / SPEC_FILE}: invalid resolved spec: {error}") from None
    tokenizer = folder / TOKENIZER_FILE
    return ModelFolder(folder, spec, tokenizer if tokenizer.is_file() else None, _read_origin(folder))


def _read_origin(folder: Path) -> dict:
    path = folder / ORIGIN_FILE
    if not path.is_file():
        return {}
    try:
        origin = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise ModelFolderError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(origin, dict):
        raise ModelFolderError(f"{path}: expected a JSON object")
    return origin


def save_model_folder(
    path: str | os.PathLike, spec, model, tokenizer_json: str | os.PathLike | None = None,
    extra_files: list[Path] | tuple[Path, ...] = (), origin: dict | None = None,
) -> Path:
    """Write spec, weights, tokenizer, `origin` (origin.json) and `extra_files` (copied
    under their names, e.g. an imported tokenizer_config.json) into `path` atomically
    (replacing its files)."""
    from safetensors.torch import save_model

    folder = Path(path)
    with staged_folder(folder, publish=merge_into_folder) as staging:
        (staging / SPEC_FILE).write_text(spec.to_json() + "\n")
        save_model(model, str(staging / WEIGHTS_FILE))
        if tokenizer_json is not None:
            shutil.copyfile(tokenizer_json, staging / TOKENIZER_FILE)
        for extra in extra_files:
            shutil.copyfile(extra, staging / Path(extra).name)
        if origin:
            (staging / ORIGIN_FILE).write_text(json.dumps(origin, indent=2) + "\n")
    return folder
