"""GGUF file → light_llm model folder, the `lightllm import-hf FILE.gguf` workflow.

The file is read with llama.cpp's own reader (interop/gguf/): its metadata becomes the
Hugging Face config of its family and its tensors (any GGML type the gguf package reads,
dequantized to fp32 one at a time) the Hugging Face state dict, so the spec comes from the
same mapping objects as a Hugging Face folder's and the same tensor checks apply. Where
transformers is installed the model is verified against transformers' own GGUF reader
(`from_pretrained(..., gguf_file=)`, which dequantizes the file independently) through
the export parity gate. The tokenizer (byte-level BPE), its chat template and special
tokens come from the metadata. Nothing is written unless every step succeeds.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from light_llm.import_hf import (
    HFImportError,
    ImportResult,
    check_tokenizer,
    checked_chat_files,
    checkpoint_names,
    parity_with,
)
from light_llm.interop.gguf.file import GGUFError, GGUFFile, is_gguf

if TYPE_CHECKING:
    from light_llm.exports.phases import PhaseDisplay


def import_gguf(source: Path, out: Path, *, verify: bool = True, seed: int = 0,
                display: PhaseDisplay | None = None) -> ImportResult:
    """Turns the GGUF file `source` into the light_llm model folder `out`; `display`
    follows the dequantization and the verification."""
    from light_llm.compiler.pipeline import lower_spec
    from light_llm.exports.phases import Phases
    from light_llm.import_hf import spec_from_hf_config
    from light_llm.interop.gguf.architectures import UNVERIFIED_IMPORTS, gguf_architecture
    from light_llm.interop.gguf.config import hf_config
    from light_llm.model_folder import save_model_folder

    source, out = Path(source), Path(out)
    try:
        file = open_gguf(source)
        arch = gguf_architecture(file.architecture, str(source))
        config = hf_config(file, arch)
    except GGUFError as error:
        raise HFImportError(str(error)) from None
    phases = Phases(display)
    with tempfile.TemporaryDirectory(prefix="light_llm-gguf-") as scratch:
        tokenizer, extra, notes = _tokenizer_files(file, Path(scratch), config)
        spec = spec_from_hf_config(source, config, (out / "tokenizer.json").resolve() if tokenizer else None)
        ir = lower_spec(spec)
        if tokenizer is not None:
            try:
                check_tokenizer(tokenizer, ir.vocab_size)
            except HFImportError as error:  # it names the scratch copy: name the file's metadata instead
                raise HFImportError(str(error).replace(str(tokenizer), f"{source} (tokenizer.ggml.tokens)")) from None
            checked_chat_files(Path(scratch), tokenizer, source)  # tokenizer.chat_template
        try:
            model = _model(file, arch, config, ir, phases)
            counts = ", ".join(f"{count} {kind}" for kind, count in file.tensor_types().items())
            notes.insert(0, f"dequantized to float32: {counts}")
            parity = None
            if verify and (arch.name in UNVERIFIED_IMPORTS or "rope_scaling" in config):
                why = UNVERIFIED_IMPORTS.get(arch.name, "its GGUF reader ignores RoPE scaling")
                notes.append(f"not verified against transformers ({why})")
            elif verify and importlib.util.find_spec("transformers") is not None:
                with phases.phase("verify"):
                    parity = parity_with(source, model, transformers_gguf_model(source), seed)
            elif verify:
                notes.append("not verified against transformers (not installed)")
        finally:
            phases.stop()  # a phase that failed still ends (its bar, its memory sampler)
        origin = {"hf_model_type": arch.model_type,
                  "gguf": {"file": source.name, "architecture": arch.name, "file_type": file.file_type(),
                           "tensor_types": file.tensor_types()}}
        save_model_folder(out, spec, model, tokenizer, extra_files=extra, origin=origin)
    return ImportResult(out, arch.model_type, model.num_parameters(), parity, notes)


def _model(file: GGUFFile, arch, config: dict, ir, phases) -> torch.nn.Module:
    """The model of `ir` holding the file's tensors, once each is checked by name and
    shape (from the header) and dequantized."""
    from light_llm.compiler.empty_build import assign_state, build_empty
    from light_llm.interop.gguf.tensor_names import gguf_name
    from light_llm.interop.gguf.weights import hf_shapes, read_hf_state
    from light_llm.interop.hf import from_hf_state_dict

    source = file.path
    names = checkpoint_names(source, ir, hf_shapes(file, arch), arch.model_type, f"the {arch.name} metadata",
                             spelled=lambda hf: gguf_name(hf, arch))
    try:
        with phases.phase("dequantize", total=len(names)) as advance:
            hf_state = read_hf_state(file, arch, config, set(names.values()), advance)
    except GGUFError as error:
        raise HFImportError(str(error)) from None
    model = build_empty(ir)
    missing, unexpected = assign_state(model, from_hf_state_dict(ir, hf_state, arch.model_type))
    if missing or unexpected:  # a mapping object that disagrees with its model: a bug, said plainly
        raise HFImportError(f"{source}: the {arch.model_type} mapping left {missing or unexpected} unset")
    return model.eval()


def open_gguf(source: Path) -> GGUFFile:
    if not is_gguf(source):
        raise GGUFError(f"{source}: neither a Hugging Face folder nor a GGUF file (no GGUF magic at its start)")
    return GGUFFile(source)


def _tokenizer_files(file: GGUFFile, scratch: Path, config: dict) -> tuple[Path | None, list[Path], list[str]]:
    """tokenizer.json, tokenizer_config.json and generation_config.json written into
    `scratch` (the model folder copies them), and notes; no tokenizer where the file's
    cannot be converted (a note says why), generation_config.json still."""
    from light_llm.interop.gguf.tokenizer import gguf_tokenizer, unsupported_reason
    from light_llm.interop.gguf.tokenizer_files import generation_config, tokenizer_config

    generation = scratch / "generation_config.json"
    generation.write_text(json.dumps(generation_config(file, config["vocab_size"]), indent=2) + "\n")
    if (reason := unsupported_reason(file)) is not None:
        return None, [generation], [f"no tokenizer: {reason}"]
    try:
        converted = gguf_tokenizer(file)
    except GGUFError as error:
        raise HFImportError(str(error)) from None
    tokenizer = scratch / "tokenizer.json"
    converted.tokenizer.save(str(tokenizer))
    settings = scratch / "tokenizer_config.json"
    context = file.get(f"{file.architecture}.context_length")
    settings.write_text(json.dumps(tokenizer_config(file, converted, context), indent=2, ensure_ascii=False) + "\n")
    return tokenizer, [settings, generation], [converted.note] if converted.note else []


def transformers_gguf_model(source: Path) -> torch.nn.Module:
    """transformers' own model of the GGUF file, dequantized by transformers to fp32."""
    from light_llm.interop.gguf.transformers_reader import transformers_model

    try:
        return transformers_model(source)
    except Exception as error:  # transformers raises many types; its first line says what
        from light_llm.formatting import error_line

        raise HFImportError(f"{source}: transformers cannot load this GGUF file, so the import cannot be verified "
                            f"(--no-verify imports it unverified): {error_line(error)}") from None
