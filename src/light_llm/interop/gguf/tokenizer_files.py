"""The Hugging Face files beside tokenizer.json that carry what a GGUF states about
special tokens and chat: `tokenizer_config.json` (chat_template, bos/eos/pad/unk tokens,
the added tokens, special or not) and `generation_config.json` (eos_token_id: the end-of-sequence
id, or a list with the end-of-turn / end-of-message ids where those differ)."""

from __future__ import annotations

from typing import Any

from light_llm.interop.gguf.file import GGUFFile
from light_llm.interop.gguf.tokenizer import GGUFTokenizer

ROLES = {"bos_token": "bos", "eos_token": "eos", "pad_token": "padding", "unk_token": "unknown"}
STOPS = ("eos", "eot", "eom")  # each id ends generation


def token_id(file: GGUFFile, role: str, vocab_size: int) -> int | None:
    """`tokenizer.ggml.{role}_token_id`, None where absent or outside the vocabulary."""
    value = file.get(f"tokenizer.ggml.{role}_token_id")
    return value if isinstance(value, int) and 0 <= value < vocab_size else None


def stop_ids(file: GGUFFile, vocab_size: int) -> list[int]:
    """eos, eot and eom ids in that order, each once."""
    found = [token_id(file, role, vocab_size) for role in STOPS]
    return list(dict.fromkeys(index for index in found if index is not None))


def tokenizer_config(file: GGUFFile, tokenizer: GGUFTokenizer, model_max_length: int) -> dict[str, Any]:
    tokens = tokenizer.tokens
    config: dict[str, Any] = {"tokenizer_class": "PreTrainedTokenizerFast"}
    for key, role in ROLES.items():
        index = token_id(file, role, len(tokens))
        config[key] = tokens[index] if index is not None else None
    config |= {
        "add_bos_token": bool(file.get("tokenizer.ggml.add_bos_token", False)),
        "add_eos_token": bool(file.get("tokenizer.ggml.add_eos_token", False)),
        "added_tokens_decoder": {
            str(index): {"content": tokens[index], "lstrip": False, "normalized": False, "rstrip": False,
                         "single_word": False, "special": index in tokenizer.special_ids}
            for index in sorted(tokenizer.special_ids + tokenizer.added_ids)
        },
        "clean_up_tokenization_spaces": False,
        "model_max_length": model_max_length,
    }
    if (template := file.get("tokenizer.chat_template")) is not None:
        config["chat_template"] = template
    return config


def generation_config(file: GGUFFile, vocab_size: int) -> dict[str, Any]:
    stops = stop_ids(file, vocab_size)
    config: dict[str, Any] = {}
    if (bos := token_id(file, "bos", vocab_size)) is not None:
        config["bos_token_id"] = bos
    if stops:
        config["eos_token_id"] = stops[0] if len(stops) == 1 else stops
    if (pad := token_id(file, "padding", vocab_size)) is not None:
        config["pad_token_id"] = pad
    return config
