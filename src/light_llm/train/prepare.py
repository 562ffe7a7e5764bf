"""From the spec's data section to token splits: read the corpus, build (or reuse) the
tokenizer, check it against the model's vocabulary, tokenize once into the run's cache."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from light_llm.schemas.spec import Spec
from light_llm.train.corpus import read_corpus
from light_llm.train.data import TOKENIZER_FILE, TokenSplits, cached_tokenizer, load_or_build_tokens, split_tokens
from light_llm.tokenizer import build_tokenizer, check_vocab_size, special_tokens

DATA_FOLDER = "data"


@dataclass(frozen=True)
class PreparedData:
    tokenizer: object  # tokenizers.Tokenizer
    tokenizer_path: Path
    splits: TokenSplits
    eos_id: int | None


def prepare_data(spec: Spec, run: Path, seq_len: int) -> PreparedData:
    """`spec` is resolved (model.vocab_size is a number)."""
    data, vocab_size = spec.data, spec.model.vocab_size
    folder = run / DATA_FOLDER
    corpus = read_corpus(data)
    tokenizer = None
    if data.tokenizer == "bpe":
        tokenizer = cached_tokenizer(folder, corpus, data.tokenizer, vocab_size)
    if tokenizer is None:
        tokenizer = build_tokenizer(data, corpus.documents, vocab_size)
    check_vocab_size(tokenizer, data, vocab_size)
    tokens = load_or_build_tokens(folder, corpus, tokenizer, data.tokenizer)
    splits = split_tokens(tokens, data.validation_fraction, seq_len)
    return PreparedData(tokenizer, folder / TOKENIZER_FILE, splits, special_tokens(tokenizer).eos_id)
