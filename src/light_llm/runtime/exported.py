"""Loading an ONNX export folder for generation: onnxruntime, numpy, tokenizers only."""

from __future__ import annotations

from pathlib import Path

from light_llm.errors import ExportError
from light_llm.runtime.kv_buffers import shares_kv_buffer
from light_llm.runtime.last_logits import last_position_graph
from light_llm.runtime.manifest import read_manifest
from light_llm.runtime.session import OnnxSession
from light_llm.runtime.text import TextGenerator


def open_session(path: Path, threads: int | None = None, last_position_logits: bool = False) -> OnnxSession:
    """An onnxruntime session on `path`, or an ExportError when the file is not a graph
    onnxruntime can load. `last_position_logits`: logits of the last position only, where
    the graph allows it (runtime/last_logits.py)."""
    if not path.is_file():
        raise ExportError(f"{path}: missing (the export folder is incomplete); export again")
    try:
        graph = last_position_graph(path) if last_position_logits else None
        return OnnxSession(graph or path, threads=threads)
    except Exception as error:  # onnxruntime raises its own types (InvalidProtobuf, Fail, ...)
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ExportError(f"{path}: onnxruntime cannot load it ({reason[:160]}); export again") from None


def load_export(folder: str | Path, threads: int | None = None, last_position_logits: bool = False) -> TextGenerator:
    """A TextGenerator on `folder`/model.onnx (an export folder of `lightllm export --onnx`).
    `last_position_logits`: its run returns logits for the last position only (what
    generation reads; `lightllm serve` sets it)."""
    from tokenizers import Tokenizer

    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest.target != "onnx":
        raise ExportError(f"{folder}: a {manifest.target} export; the runtime runs ONNX exports")
    tokenizer_file = folder / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise ExportError(f"{folder}: no tokenizer.json; pass token ids to light_llm.runtime.generate_ids")
    try:
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
    except Exception as error:  # tokenizers raises a bare Exception for damaged files
        raise ExportError(f"{tokenizer_file}: not a valid tokenizer.json ({str(error)[:160]})") from None
    return TextGenerator(
        run=open_session(folder / manifest.model_file, threads=threads, last_position_logits=last_position_logits),
        geometry=manifest.graph_geometry,
        tokenizer=tokenizer,
        eos_id=manifest.special_tokens.eos_id,
        pad_id=manifest.special_tokens.pad_id,
        end_ids=tuple(manifest.special_tokens.end_ids),
        shares_kv_buffer=shares_kv_buffer(getattr(manifest, "lowering", None)),
    )
