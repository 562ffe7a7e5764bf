"""The export folder: staged beside `--out` and moved into place only when everything is
written and verified (light_llm/staging.py), so a failed export leaves no folder behind.

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
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from light_llm.errors import ExportError
from light_llm.runtime.manifest import FORMAT, FORMAT_VERSION, MANIFEST  # noqa: F401 (re-exported)
from light_llm.staging import staged_folder as _staged_folder


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def staged_folder(out_dir: Path) -> Iterator[Path]:
    """A fresh staging folder beside `out_dir`; on success it replaces `out_dir`
    (an earlier export there is replaced, any other existing folder is refused)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not (out_dir / MANIFEST).is_file():
        raise ExportError(f"{out_dir}: exists and is not a light_llm export folder; choose another --out")
    with _staged_folder(out_dir) as staging:
        yield staging
