"""`lightllm eval PATH --perplexity`: the perplexity of a model or export folder on text.

PATH is a model or run folder (spec.resolved.json + model.safetensors: eager PyTorch, fp32)
or an ONNX export folder (light_llm.json: onnxruntime through light_llm.runtime, without
torch). The text is split into windows (windows.py) and each window is scored from an empty
context; the perplexity is exp of the mean negative log-likelihood over every predicted
token. Beside it, where known, the same windows through transformers' own model of the
Hugging Face folder the model was imported from (origin.json's `hf_source`, written by
`lightllm import-hf`; not for a run trained from it, whose weights differ) or of `reference`. The seconds are those of the forward passes and
the scoring, loading excluded.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from light_llm.evaluate.errors import EvalError
from light_llm.evaluate.scores import Logits, score
from light_llm.evaluate.text import BUILTIN_NAME, builtin_text, read_text
from light_llm.evaluate.tokens import encode, folder_tokenizer
from light_llm.evaluate.windows import DEFAULT_WINDOWS, split_windows, window_length


@dataclass(frozen=True)
class Perplexity:
    backend: str  # e.g. "light_llm eager fp32", "onnx int4", "transformers fp32"
    perplexity: float
    tokens: int  # predicted tokens
    seconds: float


@dataclass
class Evaluation:
    text: str  # what was read: the built-in text's name or the file's path
    windows: int
    window_length: int
    results: list[Perplexity] = field(default_factory=list)  # PATH's first, then the reference
    notes: list[str] = field(default_factory=list)


@dataclass
class _Subject:
    """What is evaluated: its logits, tokenizer and limits, and the HF folder it came from."""

    backend: str
    logits: Logits
    tokenizer: object
    vocab_size: int
    max_seq_len: int
    hf_source: Path | None = None
    hf_note: str = ""  # why an imported model has no transformers figure


def evaluate_perplexity(
    path: Path,
    text_file: Path | None = None,
    *,
    windows: int = DEFAULT_WINDOWS,
    length: int | None = None,
    reference: Path | None = None,
) -> Evaluation:
    """The perplexity of `path` on `text_file` (default: the built-in text), and of the
    Hugging Face reference where one is known (see the module's text)."""
    text = read_text(text_file) if text_file is not None else builtin_text()
    if reference is not None and not (reference / "config.json").is_file():
        raise EvalError(f"--reference {reference}: not a Hugging Face model folder (no config.json)")
    subject = _open(path)
    ids = encode(text, subject.tokenizer, subject.vocab_size)
    length = window_length(length, subject.max_seq_len)
    chunks = split_windows(ids, windows, length)
    evaluation = Evaluation(str(text_file) if text_file else BUILTIN_NAME, len(chunks), length)
    evaluation.results.append(_timed(subject.backend, subject.logits, chunks))
    reference = reference or subject.hf_source
    if reference is None and subject.hf_note:
        evaluation.notes.append(subject.hf_note)
    if reference is not None:
        if importlib.util.find_spec("transformers") is None:
            evaluation.notes.append("no transformers figure: transformers is not installed")
        else:
            from light_llm.evaluate.backends import transformers_logits

            evaluation.results.append(_timed("transformers fp32", transformers_logits(reference), chunks))
    return evaluation


def _timed(backend: str, logits: Logits, chunks: np.ndarray) -> Perplexity:
    start = time.perf_counter()
    scores = score(logits, chunks)
    return Perplexity(backend, scores.perplexity, scores.tokens, time.perf_counter() - start)


def _open(path: Path) -> _Subject:
    from light_llm.model_folder import SPEC_FILE, WEIGHTS_FILE
    from light_llm.runtime.manifest import MANIFEST

    if not path.exists():
        raise EvalError(f"{path}: no such folder")
    if (path / MANIFEST).is_file():
        return _export(path)
    if (path / SPEC_FILE).is_file() and (path / WEIGHTS_FILE).is_file():
        return _model(path)
    raise EvalError(f"{path}: neither a model or run folder (spec.resolved.json + model.safetensors) "
                    "nor an ONNX export folder (light_llm.json)")


def _export(path: Path) -> _Subject:
    """An ONNX export folder: onnxruntime, no torch."""
    from light_llm.evaluate.backends import export_logits
    from light_llm.runtime.exported import open_session
    from light_llm.runtime.manifest import read_manifest

    manifest = read_manifest(path)
    if manifest.target != "onnx":
        raise EvalError(f"{path}: a {manifest.target} export; `lightllm eval` reads ONNX exports and model folders")
    geometry = manifest.graph_geometry
    data_tokenizer = manifest.spec.get("data", {}).get("tokenizer")
    tokenizer = folder_tokenizer(path, path / "tokenizer.json", data_tokenizer)
    quantize = getattr(manifest, "quantize", "none")
    run = open_session(path / manifest.model_file)
    backend = f"onnx {'fp32' if quantize == 'none' else quantize}"
    return _Subject(backend, export_logits(run, geometry), tokenizer, geometry.vocab_size, geometry.max_seq_len)


def _model(path: Path) -> _Subject:
    """A model or run folder: eager PyTorch, fp32."""
    from light_llm.evaluate.backends import eager_logits
    from light_llm.exports.reference import load_reference
    from light_llm.model_folder import load_model_folder

    folder = load_model_folder(path)
    tokenizer = folder_tokenizer(path, folder.tokenizer_path, folder.spec.data.tokenizer)
    model = load_reference(folder)
    subject = _Subject("light_llm eager fp32", eager_logits(model), tokenizer, model.ir.vocab_size,
                       model.ir.max_seq_len)
    if folder.hf_model_type and "init_from" not in folder.origin:  # a trained run has other weights
        source = folder.origin.get("hf_source")
        if isinstance(source, str) and (Path(source) / "config.json").is_file():
            subject.hf_source = Path(source)
        else:
            subject.hf_note = ("no transformers figure: the Hugging Face folder it was imported from is "
                               "not recorded or gone; pass --reference HF_DIR")
    return subject
