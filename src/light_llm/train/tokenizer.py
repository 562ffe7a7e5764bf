"""Tokenizers. This module never imports torch (exports and the runtime use it too)."""

from __future__ import annotations

from light_llm.schemas.data import DataConfig

BYTE_SPECIAL_TOKENS = ("<|endoftext|>", "<|pad|>")
BYTE_VOCAB_SIZE = 256 + len(BYTE_SPECIAL_TOKENS)


def tokenizer_vocab_size(data: DataConfig) -> int:
    """Vocabulary size of the tokenizer the data section names (resolves vocab_size: auto)."""
    if data.tokenizer == "byte":
        return BYTE_VOCAB_SIZE
    raise ValueError(
        f"data.tokenizer={data.tokenizer!r}: model.vocab_size cannot be 'auto' here; "
        "set model.vocab_size"
    )
