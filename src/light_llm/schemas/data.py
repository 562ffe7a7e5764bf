"""The `data` section: where training text comes from and how it is tokenized."""

from pydantic import Field, PositiveInt

from light_llm.spec_base import SpecModel


class DataConfig(SpecModel):
    """Where training text comes from and how it is tokenized."""

    corpus: str | list[str] = Field(
        "stdlib",
        description="'stdlib' (the Python standard library's own .py files, present "
        "wherever Python is, in sorted order), or files, folders, globs and .jsonl files "
        "(a 'text' field per line), or a list of these. Paths are relative to the working "
        "directory; documents are separated by the end-of-text token.",
    )
    tokenizer: str = Field(
        "byte",
        description="'byte' (ids 0-255 are the bytes, then <|endoftext|> and <|pad|>: 258 "
        "tokens), 'bpe' (byte-level BPE trained on the corpus to model.vocab_size), or the "
        "path of a tokenizer.json.",
    )
    max_corpus_bytes: PositiveInt | None = Field(
        32_000_000, description="Read at most this many bytes (UTF-8) of text, documents in order, "
        "the last one cut (null: no limit)."
    )
    validation_fraction: float = Field(
        0.05, gt=0.0, lt=0.5, description="Share of the tokens held out for validation (the end of the "
        "token stream)."
    )
