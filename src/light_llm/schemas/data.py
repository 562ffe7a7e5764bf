"""The `data` section: where training text comes from and how it is tokenized."""

from pydantic import Field, PositiveInt

from light_llm.schemas.base import SpecModel


class DataConfig(SpecModel):
    """Where training text comes from and how it is tokenized."""

    corpus: str | list[str] = Field(
        "stdlib",
        description="'stdlib' (the Python standard library's own source files, present "
        "wherever Python is), or files, folders, globs and .jsonl files (a 'text' field "
        "per line).",
    )
    tokenizer: str = Field(
        "byte",
        description="'byte' (256 bytes plus special tokens), 'bpe' (trained on the corpus "
        "to model.vocab_size), or the path of a tokenizer.json.",
    )
    max_corpus_bytes: PositiveInt | None = Field(
        32_000_000, description="Read at most this many bytes of text (null: no limit)."
    )
    validation_fraction: float = Field(
        0.05, gt=0.0, lt=0.5, description="Share of the tokens held out for validation."
    )
