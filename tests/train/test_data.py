"""The token cache and the batches: tokenized once, reused only by the same tokenizer
and text, split with room for a window, windows drawn reproducibly."""

from __future__ import annotations

import numpy as np
import pytest

from light_llm.schemas.data import DataConfig
from light_llm.train.corpus import read_corpus
from light_llm.train.data import (
    DataError,
    WindowSampler,
    load_or_build_tokens,
    split_tokens,
    tokenize,
    unigram_entropy,
)
from light_llm.tokenizer import build_tokenizer, byte_tokenizer


def test_byte_stream_is_the_utf8_bytes_with_end_of_text_between_documents(text_corpus) -> None:
    corpus = read_corpus(DataConfig(corpus=str(text_corpus)))
    tokens = tokenize(corpus, byte_tokenizer())
    expected = []
    for doc in corpus.documents:
        expected += byte_tokenizer().encode(doc).ids + [256]
    assert tokens.dtype == np.uint16 and tokens.tolist() == expected


def test_bpe_stream_matches_the_tokenizer(text_corpus) -> None:
    corpus = read_corpus(DataConfig(corpus=str(text_corpus)))
    bpe = build_tokenizer(DataConfig(tokenizer="bpe"), corpus.documents, vocab_size=300)
    tokens = tokenize(corpus, bpe)
    eos = bpe.token_to_id("<|endoftext|>")
    assert tokens.tolist() == bpe.encode(corpus.documents[0]).ids + [eos] + tokens.tolist()[len(bpe.encode(corpus.documents[0]).ids) + 1 :]
    assert (tokens == eos).sum() == len(corpus.documents)


def test_cache_is_reused_and_refuses_another_tokenizer_or_text(tmp_path, text_corpus) -> None:
    corpus = read_corpus(DataConfig(corpus=str(text_corpus)))
    folder = tmp_path / "data"
    first = load_or_build_tokens(folder, corpus, byte_tokenizer(), "byte")
    assert isinstance(first, np.memmap) and len(first) > 1000
    (folder / "tokens.bin").write_bytes(b"\x07\x00" * len(first))  # proves the second call reads the cache
    assert set(load_or_build_tokens(folder, corpus, byte_tokenizer(), "byte").tolist()) == {7}
    bpe = build_tokenizer(DataConfig(tokenizer="bpe"), corpus.documents, vocab_size=300)
    with pytest.raises(DataError, match=r"was made by another tokenizer \(byte.*this run's is bpe"):
        load_or_build_tokens(folder, corpus, bpe, "bpe")
    other_text = read_corpus(DataConfig(corpus=str(text_corpus / "doc0.txt")))
    with pytest.raises(DataError, match="was made from other text"):
        load_or_build_tokens(folder, other_text, byte_tokenizer(), "byte")


def test_split_holds_out_the_end_and_needs_a_window_in_each_part() -> None:
    tokens = np.arange(1000, dtype=np.uint16)
    splits = split_tokens(tokens, 0.1, seq_len=64)
    assert splits.train.tolist() == list(range(900)) and splits.validation.tolist() == list(range(900, 1000))
    with pytest.raises(DataError, match=r"too short for seq_len=128: its validation split has 100 tokens of the 129"):
        split_tokens(tokens, 0.1, seq_len=128)


def test_windows_are_contiguous_and_the_generator_state_round_trips() -> None:
    tokens = np.arange(500, dtype=np.uint16)
    sampler = WindowSampler(tokens, seq_len=16, seed=3)
    sampler.offsets(5)
    saved = sampler.state()
    windows = sampler.windows(sampler.offsets(4))
    assert windows.shape == (4, 17) and bool(((windows[:, 1:] - windows[:, :-1]) == 1).all())
    restored = WindowSampler(tokens, seq_len=16, seed=99)
    restored.load_state(saved)
    assert restored.windows(restored.offsets(4)).equal(windows)
    assert not WindowSampler(tokens, 16, seed=4).windows(WindowSampler(tokens, 16, seed=4).offsets(4)).equal(windows)


def test_unigram_entropy() -> None:
    assert unigram_entropy(np.array([0, 1, 2, 3] * 10), 8) == pytest.approx(np.log(4))
    assert unigram_entropy(np.zeros(10, dtype=np.int64), 8) == 0.0
