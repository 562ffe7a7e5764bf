"""Text → token ids with the tokenizer of a model or export folder. Torch-free."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from light_llm.evaluate.errors import EvalError


def folder_tokenizer(folder: Path, tokenizer_file: Path | None, data_tokenizer: str | None):
    """The tokenizer of `folder`: its tokenizer.json, else the byte tokenizer where the
    spec's data.tokenizer is `byte` (a compiled model without a saved tokenizer)."""
    from light_llm.tokenizer import byte_tokenizer, load_tokenizer_file

    if tokenizer_file is not None and tokenizer_file.is_file():
        return load_tokenizer_file(tokenizer_file)
    if data_tokenizer == "byte":
        return byte_tokenizer()
    raise EvalError(f"{folder}: no tokenizer.json to turn the text into tokens "
                    f"(the spec's data.tokenizer is {data_tokenizer!r}, not 'byte')")


def encode(text: str, tokenizer, vocab_size: int) -> np.ndarray:
    """The ids of `text` (no special tokens added), int64; every id must be < vocab_size."""
    ids = np.asarray(tokenizer.encode(text, add_special_tokens=False).ids, dtype=np.int64)
    if ids.size and int(ids.max()) >= vocab_size:
        raise EvalError(f"the tokenizer gives id {int(ids.max())}, beyond the model's vocab_size {vocab_size}")
    return ids
