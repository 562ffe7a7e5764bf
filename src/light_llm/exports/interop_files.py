"""The files around model.onnx that other runtimes read: tokenizer.json,
tokenizer_config.json, config.json (Hugging Face), generation_config.json and
genai_config.json, plus an imported model's chat template (chat_template.jinja, and inside
tokenizer_config.json) and its end-of-turn tokens (generation_config.json's eos_token_id,
genai_config.json's, light_llm.json's special_tokens.end_ids). The one place every export
target writes them."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from light_llm.chat_template import GENERATION_CONFIG, generation_config_with
from light_llm.exports.folder import write_json
from light_llm.exports.genai_config import genai_config, genai_unsupported_reason
from light_llm.runtime.geometry import Geometry


@dataclass
class InteropFiles:
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    eos_id: int | None = None
    pad_id: int | None = None
    end_ids: tuple[int, ...] = ()  # every token that ends a turn, eos_id first
    genai_skipped: str | None = None  # why genai_config.json was left out
    hf_model_type: str | None = None


def write_interop_files(staging: Path, folder, ir, geometry: Geometry, genai: bool = True,
                        shares_kv_buffer: bool = False, hf_architecture: str | None = None) -> InteropFiles:
    """`genai`: False for folders without model.onnx (the Hugging Face export);
    `shares_kv_buffer`: the graph lets past and present share one KV buffer (GroupQueryAttention);
    `hf_architecture`: config.json's model_type (default: the folder's imported one where it
    still fits, else the first that fits)."""
    from light_llm.chat_template import ChatFiles, read_chat_files

    written = InteropFiles()
    tokenizer = _write_tokenizer(staging, folder, written)
    chat = read_chat_files(folder.path, tokenizer) if tokenizer is not None else ChatFiles()
    bos_id = None
    if tokenizer is not None:
        bos_id = _write_tokenizer_config(staging, chat, tokenizer, ir.max_seq_len, written)
    _write_hf_config(staging, ir, written, hf_architecture or getattr(folder, "hf_model_type", None), bos_id)
    if "config.json" in written.files or chat.generation_config:
        generation = generation_config_with(chat, written.end_ids, bos_token_id=bos_id, pad_token_id=written.pad_id,
                                            max_length=ir.max_seq_len)
        write_json(staging / GENERATION_CONFIG, generation)
        written.files.append(GENERATION_CONFIG)
    if not genai:
        return written
    written.genai_skipped = genai_unsupported_reason(geometry)
    if written.genai_skipped is None:
        eos = list(written.end_ids) if len(written.end_ids) > 1 else written.eos_id
        write_json(staging / "genai_config.json", genai_config(ir, geometry, eos, written.pad_id,
                                                                     shares_kv_buffer=shares_kv_buffer, bos_id=bos_id))
        written.files.append("genai_config.json")
    else:
        written.notes.append(f"genai_config.json left out: {written.genai_skipped}")
    return written


def _write_tokenizer_config(staging: Path, chat, tokenizer, max_seq_len: int, written: InteropFiles) -> int | None:
    """tokenizer_config.json: the model folder's own (an imported model's, its chat template
    inside and in chat_template.jinja), else one made from the tokenizer; sets the special
    ids of `written`. Returns the beginning-of-text id (None: the end-of-text one)."""
    from light_llm.chat_template import token_ids, write_chat_files
    from light_llm.tokenizer import hf_tokenizer_config

    ids = token_ids(chat, tokenizer)
    written.eos_id, written.pad_id, written.end_ids = ids.eos_id, ids.pad_id, ids.end_ids
    if chat.tokenizer_config or chat.template is not None:
        written.files += write_chat_files(staging, chat, None, template_file=True)
    else:
        write_json(staging / "tokenizer_config.json", hf_tokenizer_config(tokenizer, max_seq_len))
        written.files.append("tokenizer_config.json")
    return ids.bos_id


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


def _write_hf_config(staging: Path, ir, written: InteropFiles, preferred: str | None, bos_id: int | None) -> None:
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
                                           ("bos_token_id", written.eos_id if bos_id is None else bos_id),
                                           ("pad_token_id", written.pad_id)) if value is not None}
    write_json(staging / "config.json", hf_config(ir, written.hf_model_type, **extra))
    written.files.append("config.json")
