"""The tokenizers: byte ids equal byte values and round-trip any text, the JSON a runtime
loads encodes alike, BPE reaches the requested size, a user's file is read or refused."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from light_llm.schemas.data import DataConfig
from light_llm.tokenizer import (
    BYTE_VOCAB_SIZE,
    TokenizerError,
    build_tokenizer,
    byte_tokenizer,
    hf_tokenizer_config,
    special_tokens,
    tokenizer_fingerprint,
    tokenizer_vocab_size,
)

BPE_TEXTS = [f"def function_{i}(value):\n    return value * {i} + total\n" for i in range(400)]


@settings(max_examples=60, deadline=None)
@given(st.text())
def test_byte_tokenizer_ids_are_the_utf8_bytes_and_decode_back(text: str) -> None:
    tokenizer = Tokenizer.from_str(byte_tokenizer().to_str())  # what a runtime loads
    ids = tokenizer.encode(text).ids
    if "<|" not in text:
        assert ids == list(text.encode("utf-8"))
    assert tokenizer.decode(ids, skip_special_tokens=False) == text


def test_byte_tokenizer_special_tokens_follow_the_bytes() -> None:
    tokenizer = byte_tokenizer()
    specials = special_tokens(tokenizer)
    assert tokenizer.get_vocab_size() == BYTE_VOCAB_SIZE == 258
    assert (specials.eos_token, specials.eos_id) == ("<|endoftext|>", 256)
    assert (specials.pad_token, specials.pad_id) == ("<|pad|>", 257)
    assert tokenizer.encode("a<|endoftext|>").ids == [97, 256]
    config = hf_tokenizer_config(tokenizer, model_max_length=128)
    assert config["eos_token"] == "<|endoftext|>" and config["model_max_length"] == 128


def test_bpe_is_trained_to_the_requested_size_and_round_trips() -> None:
    tokenizer = build_tokenizer(DataConfig(tokenizer="bpe"), BPE_TEXTS, vocab_size=300)
    assert tokenizer.get_vocab_size() == 300
    text = "def function_7(value):\n    return value * 7 + total\n"
    ids = tokenizer.encode(text).ids
    assert len(ids) < len(text.encode()) / 2  # merges were learned
    assert tokenizer.decode(ids) == text
    assert special_tokens(tokenizer).eos_id is not None


def test_bpe_on_too_little_text_names_the_size_it_reached() -> None:
    with pytest.raises(TokenizerError, match=r"too small to learn 5000 BPE tokens \(learned \d+\)"):
        build_tokenizer(DataConfig(tokenizer="bpe"), ["tiny text"], vocab_size=5000)


def test_a_users_tokenizer_file_gives_its_vocab_size(tmp_path) -> None:
    path = tmp_path / "tokenizer.json"
    bpe = build_tokenizer(DataConfig(tokenizer="bpe"), BPE_TEXTS, vocab_size=290)
    path.write_text(bpe.to_str())
    data = DataConfig(tokenizer=str(path))
    assert tokenizer_vocab_size(data) == 290
    assert tokenizer_fingerprint(build_tokenizer(data)) == tokenizer_fingerprint(bpe)
    assert tokenizer_fingerprint(bpe) != tokenizer_fingerprint(byte_tokenizer())


def test_missing_or_broken_tokenizer_files_are_clear_errors(tmp_path) -> None:
    with pytest.raises(TokenizerError, match="no such tokenizer.json"):
        tokenizer_vocab_size(DataConfig(tokenizer=str(tmp_path / "absent.json")))
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"model": "nothing"}))
    with pytest.raises(TokenizerError, match="not a valid tokenizer.json"):
        build_tokenizer(DataConfig(tokenizer=str(broken)))


def test_vocab_size_auto_is_refused_for_bpe() -> None:
    with pytest.raises(TokenizerError, match="set model.vocab_size"):
        tokenizer_vocab_size(DataConfig(tokenizer="bpe"))
