"""The files around model.onnx that other runtimes read: tokenizer.json,
tokenizer_config.json, config.json (Hugging Face) and genai_config.json."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from light_llm.exports.folder import write_json
from light_llm.exports.genai_config import genai_config, genai_unsupported_reason
from light_llm.runtime.geometry import Geometry


@dataclass
class InteropFiles:
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    eos_id: int | None = None
    pad_id: int | None = None
    genai_skipped: str | None = None  # why genai_config.json was left out
    hf_model_type: str | None = None


def write_interop_files(staging: Path, folder, ir, geometry: Geometry, genai: bool = True,
                        shares_kv_buffer: bool = False, hf_architecture: str | None = None) -> InteropFiles:
    """`genai`: False for folders without model.onnx (the Hugging Face export);
    `shares_kv_buffer`: the graph lets past and present share one KV buffer (GroupQueryAttention);
    `hf_architecture`: config.json's model_type (default: the folder's imported one where it
    still fits, else the first that fits)."""
    written = InteropFiles()
    tokenizer = _write_tokenizer(staging, folder, written)
    if tokenizer is not None:
        from light_llm.tokenizer import hf_tokenizer_config, special_tokens

        specials = special_tokens(tokenizer)
        written.eos_id, written.pad_id = specials.eos_id, specials.pad_id
        carried = Path(folder.path) / "tokenizer_config.json"  # an imported model's own (import-hf)
        if carried.is_file():
            shutil.copyfile(carried, staging / "tokenizer_config.json")
        else:
            write_json(staging / "tokenizer_config.json", hf_tokenizer_config(tokenizer, ir.max_seq_len))
        written.files.append("tokenizer_config.json")
    _write_hf_config(staging, ir, written, hf_architecture or getattr(folder, "hf_model_type", None))
    if not genai:
        return written
    written.genai_skipped = genai_unsupported_reason(geometry)
    if written.genai_skipped is None:
        write_json(staging / "genai_config.json", genai_config(ir, geometry, written.eos_id, written.pad_id,
                                                                     shares_kv_buffer=shares_kv_buffer))
        written.files.append("genai_config.json")
    else:
        written.notes.append(f"genai_config.json left out: {written.genai_skipped}")
    return written


def _write_tokenizer(staging: Path, folder, written: InteropFiles):
    from tokenizers import Tokenizer

    target = staging / "tokenizer.json"
    if folder.tokenizer_path is not None:
        shutil.copyfile(folder.tokenizer_path, target)
    elif folder.spec.data.tokenizer == "byte":
        from light_llm.tokenizer import byte_tokenizer

        byte_tokenizer().save(str(target))
    else:
        written.notes.append("no tokenizer.json in the model folder: runtimes must pass token ids")
        return None
    written.files.append("tokenizer.json")
    return Tokenizer.from_file(str(target))


def _write_hf_config(staging: Path, ir, written: InteropFiles, preferred: str | None) -> None:
    from light_llm.interop.hf import choose_architecture, hf_config, hf_model_type, unmappable_options

    written.hf_model_type = hf_model_type(ir)
    if written.hf_model_type is not None:
        written.hf_model_type, note = choose_architecture(ir, preferred)
        if note is not None:
            written.notes.append(f"config.json: {note}")
    if written.hf_model_type is None:
        reasons = "; ".join(f"{name}: {', '.join(found)}" for name, found in unmappable_options(ir).items())
        written.notes.append(f"config.json left out: no Hugging Face architecture matches ({reasons})")
        return
    extra = {key: value for key, value in (("eos_token_id", written.eos_id),
                                           ("bos_token_id", written.eos_id),
                                           ("pad_token_id", written.pad_id)) if value is not None}
    write_json(staging / "config.json", hf_config(ir, written.hf_model_type, **extra))
    written.files.append("config.json")
