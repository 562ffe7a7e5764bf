"""Loading an ONNX export folder for generation: onnxruntime, numpy, tokenizers only."""

from __future__ import annotations

from pathlib import Path

from light_llm.exports.folder import read_manifest
from light_llm.runtime.geometry import Geometry
from light_llm.runtime.session import OnnxSession
from light_llm.runtime.text import TextGenerator


def load_export(folder: str | Path, threads: int | None = None) -> TextGenerator:
    """A TextGenerator on `folder`/model.onnx (an export folder of `lightllm export --onnx`)."""
    from tokenizers import Tokenizer

    from light_llm.exports.result import ExportError

    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest.get("target") != "onnx":
        raise ExportError(f"{folder}: a {manifest.get('target')} export; the runtime runs ONNX exports")
    tokenizer_file = folder / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise ExportError(f"{folder}: no tokenizer.json; pass token ids to light_llm.runtime.generate_ids")
    specials = manifest.get("special_tokens", {})
    return TextGenerator(
        run=OnnxSession(folder / manifest["model_file"], threads=threads),
        geometry=Geometry.from_dict(manifest["geometry"]),
        tokenizer=Tokenizer.from_file(str(tokenizer_file)),
        eos_id=specials.get("eos_id"),
        pad_id=specials.get("pad_id"),
    )
