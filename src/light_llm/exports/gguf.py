"""GGUF export: `model.gguf`, the file llama.cpp and the tools built on it (llama-cpp-python,
Ollama, LM Studio, llamafile) run, for specs that a llama.cpp architecture reproduces
(interop/gguf/architectures.py: llama, qwen2, qwen3, olmo2, phi3, gemma, gemma2, gemma3, gpt2 —
their Hugging Face family's options, and what llama.cpp's graph fixes beyond it).

The file is written from the model's Hugging Face state dict and config (interop/hf/)
through the tables the GGUF import reads (interop/gguf/: metadata keys, tensor names,
llama.cpp's Q/K row order) in the chosen type (`gguf_type`: f32, f16, bf16, q8_0, q5_1,
q5_0, q4_1, q4_0), with the model's byte-level BPE tokenizer as llama.cpp's "gpt2"
vocabulary, its special tokens and chat template. Beside it: the side files of every
export (tokenizer.json, tokenizer_config.json, config.json, generation_config.json), a
Modelfile for Ollama and light_llm.json.

Verified before the folder appears (exports/gguf_checks.py): read back with llama.cpp's
reader, then by transformers' GGUF loader and by llama.cpp itself against eager PyTorch,
an F32 file within the fp32 tolerance, the other types through the quantized gate.
"""

from __future__ import annotations

from pathlib import Path

from light_llm.errors import ExportError
from light_llm.exports.phases import PhaseDisplay, Phases
from light_llm.exports.result import ExportResult

MODEL_FILE = "model.gguf"
MODELFILE = "Modelfile"
EXACT = "f32"
GATE_METHOD = {"f16": "int8", "bf16": "int8", "q8_0": "int8"}  # the quantized gate's thresholds; others int4


def gate_method(gguf_type: str) -> str | None:
    """The quantized gate's method (int8 / int4) whose thresholds a type meets; None for F32."""
    return None if gguf_type == EXACT else GATE_METHOD.get(gguf_type, "int4")


def check_gguf_type(gguf_type: str) -> str:
    from light_llm.interop.gguf.writer import FILE_TYPES

    chosen = gguf_type.lower()
    if chosen not in FILE_TYPES:
        raise ExportError(f"--gguf-type {gguf_type}: not a GGUF type light_llm writes; allowed: {', '.join(FILE_TYPES)}")
    return chosen


def export_gguf(folder, out_dir: Path, *, gguf_type: str = EXACT, atol: float | None = None,
                rtol: float | None = None, seed: int = 0, display: PhaseDisplay | None = None) -> ExportResult:
    """`folder`: a ModelFolder. Writes the GGUF export folder into `out_dir` once both
    transformers and llama.cpp (where installed) reproduce eager light_llm from the file."""
    import importlib.util

    from light_llm.compiler.pipeline import lower_spec
    from light_llm.exports.core import tolerances
    from light_llm.exports.folder import staged_folder
    from light_llm.exports.text_gate import GateThresholds

    gguf_type = check_gguf_type(gguf_type)
    atol, rtol = tolerances(folder, atol, rtol)
    ir = lower_spec(folder.spec, target="eager")
    arch = _architecture(folder, ir)
    if importlib.util.find_spec("transformers") is None:
        raise ExportError("--gguf: verifying the file needs transformers: `pip install transformers`")
    method = gate_method(gguf_type)
    thresholds = GateThresholds.of(folder.spec.export, method) if method else None
    phases = Phases(display)
    with staged_folder(out_dir) as staging:
        with phases.phase(f"write {gguf_type}"):
            side, written = _write(staging, folder, ir, arch, gguf_type)
        report = _verify(staging / MODEL_FILE, folder, ir, atol, rtol, seed, thresholds, phases)
        (staging / MODELFILE).write_text(f"FROM ./{MODEL_FILE}\n")  # Ollama reads the rest from the file
        _write_manifest(staging, folder, ir, report, side, arch.name, gguf_type, written, phases)
        files = sorted(item.name for item in staging.iterdir())
    notes = list(side.notes)
    if written.fallbacks:
        notes.append(f"{len(written.fallbacks)} matrices kept in F16: their rows do not split into {gguf_type} "
                     f"blocks (first: {written.fallbacks[0]})")
    return ExportResult("gguf", Path(out_dir), files, report, notes, phases=phases.to_list())


def _architecture(folder, ir):
    """The architecture to write, or an ExportError naming each option that blocks the
    closest one (the fewest blockers; the first in the table on a tie)."""
    from light_llm.interop.gguf.architectures import ARCHITECTURES, export_architecture, export_blockers

    arch = export_architecture(ir, folder.hf_model_type)
    if arch is None:
        blocked = export_blockers(ir)
        closest = min(blocked, key=lambda name: len(blocked[name]))
        shown = ", ".join(reason.replace(f"({closest} needs ", "(needs ") for reason in blocked[closest])
        raise ExportError(f"--gguf: none of the {len(ARCHITECTURES)} llama.cpp architectures light_llm writes "
                          f"reproduces this model; the closest, {closest}, cannot express: {shown}")
    return arch


def _write(staging: Path, folder, ir, arch, gguf_type: str):
    """The side files, then model.gguf from the model's Hugging Face state dict."""
    from tokenizers import Tokenizer

    from light_llm import __version__
    from light_llm.chat_template import read_chat_files, token_ids
    from light_llm.exports.core import write_side_files
    from light_llm.exports.hf import hf_state_dict
    from light_llm.interop.gguf.config import gguf_metadata
    from light_llm.interop.gguf.vocabulary import VocabularyError, gguf_vocabulary
    from light_llm.interop.gguf.weights import gguf_state
    from light_llm.interop.gguf.writer import SpecialIds, write_gguf
    from light_llm.interop.hf import hf_config
    from light_llm.runtime.geometry import Geometry

    side = write_side_files(staging, folder, ir, Geometry.from_ir(ir), hf_architecture=arch.model_type)
    if "tokenizer.json" not in side.files:
        raise ExportError("--gguf: the model folder has no tokenizer.json, and llama.cpp needs the tokenizer "
                          "inside the file")
    tokenizer = Tokenizer.from_file(str(staging / "tokenizer.json"))
    try:
        vocabulary = gguf_vocabulary(tokenizer, ir.vocab_size)
    except VocabularyError as error:
        raise ExportError(f"--gguf: {error}") from None
    chat = read_chat_files(folder.path, tokenizer)
    ids = token_ids(chat, tokenizer)
    # without a BOS token of its own, llama.cpp's "gpt2" vocabulary would take id 11: name the EOS, as GPT-2 does
    specials = SpecialIds(bos=ids.eos_id if ids.bos_id is None else ids.bos_id, eos=side.eos_id,
                          eot=side.end_ids[1] if len(side.end_ids) > 1 else None, padding=side.pad_id)
    config = hf_config(ir, arch.model_type)
    model = folder.build(target="eager")
    tensors = gguf_state(hf_state_dict(model, arch.model_type), arch, config)
    del model
    written = write_gguf(staging / MODEL_FILE, arch.name, gguf_metadata(config, arch), tensors, vocabulary,
                         specials, chat.template, gguf_type, Path(folder.path).resolve().name,
                         {"light_llm.version": __version__, "light_llm.spec": folder.spec.to_json(indent=None)})
    if vocabulary.padded:
        side.notes.append(f"the vocabulary is padded with {vocabulary.padded} unused tokens to the model's "
                          f"{ir.vocab_size} embedding rows")
    return side, written


def _verify(path: Path, folder, ir, atol: float, rtol: float, seed: int, thresholds, phases: Phases):
    from light_llm.exports.gguf_checks import check_gguf
    from light_llm.exports.verify import require_parity
    from light_llm.interop.gguf.file import GGUFError, GGUFFile

    with phases.phase("read back"):
        try:
            GGUFFile(path)  # llama.cpp's reader: every tensor wholly inside the file
        except GGUFError as error:
            raise ExportError(f"--gguf: the written file does not read back: {error}") from None
    report = check_gguf(path, folder, ir, atol=atol, rtol=rtol, seed=seed, thresholds=thresholds,
                        on_side=lambda side: phases.start(f"verify: {side}"))
    phases.stop()
    return require_parity(report, "GGUF")


def _write_manifest(staging: Path, folder, ir, report, side, architecture: str, gguf_type: str, written,
                    phases: Phases) -> None:
    from importlib.metadata import version

    from light_llm.exports.core import manifest
    from light_llm.exports.folder import MANIFEST, write_json
    from light_llm.exports.llama_cpp import llama_cpp_missing
    from light_llm.runtime.geometry import Geometry

    versions = {"gguf": version("gguf")}
    if llama_cpp_missing() is None:
        versions["llama_cpp_python"] = version("llama-cpp-python")
    data = manifest("gguf", folder, Geometry.from_ir(ir), report, staging, [MODEL_FILE], side, versions=versions,
                    extra={"gguf_architecture": architecture, "gguf_type": gguf_type,
                           "tensor_types": written.tensor_types})
    data["phases"] = phases.to_list()
    write_json(staging / MANIFEST, data)
