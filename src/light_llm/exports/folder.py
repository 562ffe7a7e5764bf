"""The export folder: staged in a hidden sibling folder, moved into place only when
everything is written and verified, so a failed export leaves no folder behind.

    model.onnx             the graph (model.onnx.data beside it above 2 GB)
    genai_config.json      onnxruntime-genai's decoder config (causal models only)
    tokenizer.json         where the model folder has one, or the spec's byte tokenizer
    tokenizer_config.json  for transformers and onnxruntime-genai
    config.json            where the spec maps onto a Hugging Face architecture
    light_llm.json         resolved spec, versions, graph geometry, sha256s, parity report
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from light_llm.permissions import make_readable

MANIFEST = "light_llm.json"
FORMAT = "light_llm export"
FORMAT_VERSION = 1


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(folder: Path) -> dict:
    from light_llm.exports.result import ExportError

    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ExportError(f"{folder}: not a light_llm export folder (no {MANIFEST}); "
                          "make one with `lightllm export RUN --onnx`")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ExportError(f"{path}: not valid JSON ({error})") from None
    if manifest.get("format") != FORMAT:
        raise ExportError(f"{path}: not a light_llm export manifest")
    return manifest


@contextmanager
def staged_folder(out_dir: Path) -> Iterator[Path]:
    """A fresh staging folder beside `out_dir`; on success it replaces `out_dir`
    (an earlier export there is replaced, any other existing folder is refused)."""
    from light_llm.exports.result import ExportError

    out_dir = Path(out_dir)
    if out_dir.exists() and not (out_dir / MANIFEST).is_file():
        raise ExportError(f"{out_dir}: exists and is not a light_llm export folder; choose another --out")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-", dir=out_dir.parent))
    try:
        yield staging
        make_readable(staging)
        _replace(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _replace(staging: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    os.replace(out_dir, retired / out_dir.name)
    os.replace(staging, out_dir)
    shutil.rmtree(retired, ignore_errors=True)
