"""The `data` section: where training text comes from and how it is tokenized."""

from typing import Annotated

from pydantic import Field

from light_llm.schemas.base import LIMIT, Integer, Number, SpecModel

MAX_PATH_CHARS = 1_024
"""Longest corpus entry or tokenizer name/path; a file name is at most 255 bytes anyway."""
MAX_CORPUS_ENTRIES = 10_000
MAX_CORPUS_BYTES = 2**40

PathText = Annotated[str, Field(min_length=1, max_length=MAX_PATH_CHARS)]


class DataConfig(SpecModel):
    """Where training text comes from and how it is tokenized."""

    corpus: PathText | Annotated[list[PathText], Field(min_length=1, max_length=MAX_CORPUS_ENTRIES)] = Field(
        "stdlib",
        description="'stdlib' (the Python standard library's own .py files, present "
        "wherever Python is, in sorted order), or files, folders, globs and .jsonl files "
        "(a 'text' field per line), or a list of these. Paths are relative to the working "
        "directory; documents are separated by the end-of-text token. Text that is not "
        "UTF-8 is refused (the stdlib corpus reads its few files in other encodings with U+FFFD). "
        f"{LIMIT}at most {MAX_CORPUS_ENTRIES:,} entries of at most {MAX_PATH_CHARS:,} characters.",
    )
    tokenizer: PathText = Field(
        "byte",
        description="'byte' (ids 0-255 are the bytes, then <|endoftext|> and <|pad|>: 258 "
        "tokens), 'bpe' (byte-level BPE trained on the corpus to model.vocab_size), or the "
        "path of a tokenizer.json. "
        f"{LIMIT}at most {MAX_PATH_CHARS:,} characters, a path on any system.",
    )
    max_corpus_bytes: Integer(1, MAX_CORPUS_BYTES) | None = Field(
        32_000_000, description="Read at most this many bytes (UTF-8) of text, documents in order, "
        "the last one cut (null: no limit)."
    )
    validation_fraction: Number(gt=0.0, lt=0.5) = Field(
        0.05, description="Share of the tokens held out for validation (the end of the "
        "token stream)."
    )
