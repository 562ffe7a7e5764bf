"""Tokenizers, built with the `tokenizers` library so every run can ship a standard
`tokenizer.json` (tokenizers in Python and JS, onnxruntime-genai, transformers).

- `byte`: ids 0..255 are the bytes 0..255 (byte-level, lossless for any text), then the
  special tokens of `BYTE_SPECIAL_TOKENS`.
- `bpe`: byte-level BPE trained on the corpus to exactly `model.vocab_size` tokens.
- a path: the user's own tokenizer.json.

This module never imports torch; it sits on the ground floor, beside errors.py, since the
compiler (vocab_size: auto), training, exports and the runtime all read tokenizers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from light_llm.errors import TokenizerError  # noqa: F401 (raised here; importable from here too)
from light_llm.formatting import shorten

if TYPE_CHECKING:
    from light_llm.schemas.data import DataConfig

EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<|pad|>"
BYTE_SPECIAL_TOKENS = (EOS_TOKEN, PAD_TOKEN)
BYTE_VOCAB_SIZE = 256 + len(BYTE_SPECIAL_TOKENS)

# End-of-text tokens of common tokenizers, tried in order for a user's tokenizer.json.
KNOWN_EOS_TOKENS = (EOS_TOKEN, "</s>", "<|end_of_text|>", "<eos>", "<|eot_id|>", "[SEP]")
KNOWN_PAD_TOKENS = (PAD_TOKEN, "<pad>", "[PAD]")


@dataclass(frozen=True)
class SpecialTokens:
    """The special tokens a runtime needs: the end-of-text token separates documents and
    stops generation; padding fills batches. Either may be absent from a user's tokenizer."""

    eos_token: str | None
    eos_id: int | None
    pad_token: str | None
    pad_id: int | None


def is_tokenizer_file(name: str) -> bool:
    return name not in ("byte", "bpe")


def byte_tokenizer():
    """256 byte tokens (id == byte value) plus the special tokens, with a ByteLevel decoder."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    alphabet = byte_to_unicode()
    vocab = {alphabet[byte]: byte for byte in range(256)}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(list(BYTE_SPECIAL_TOKENS))
    return tokenizer


def train_bpe_tokenizer(texts: Iterable[str], vocab_size: int):
    """Byte-level BPE trained on `texts` to exactly `vocab_size` tokens (specials included)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    minimum = 256 + len(BYTE_SPECIAL_TOKENS)
    if vocab_size < minimum:
        raise TokenizerError(
            f"model.vocab_size={vocab_size} is too small for a byte-level BPE tokenizer; "
            f"allowed: at least {minimum} (256 bytes + {len(BYTE_SPECIAL_TOKENS)} special tokens)"
        )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(BYTE_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    learned = tokenizer.get_vocab_size(with_added_tokens=True)
    if learned != vocab_size:
        raise TokenizerError(
            f"the corpus is too small to learn {vocab_size} BPE tokens (learned {learned}); "
            f"set model.vocab_size to {learned} or use more text"
        )
    return tokenizer


def load_tokenizer_file(path: str | Path):
    """A user's tokenizer.json, loaded and checked: a missing, unreadable or invalid file,
    or one without tokens, is a TokenizerError with a one-line message."""
    from tokenizers import Tokenizer

    file = Path(path)
    shown = shorten(str(file), 120)
    try:
        if not file.is_file():
            raise TokenizerError(f"data.tokenizer: {shown}: no such tokenizer.json file")
        tokenizer = Tokenizer.from_file(str(file))
    except OSError as error:  # e.g. a name longer than the file system allows
        raise TokenizerError(
            f"data.tokenizer: {shown}: cannot be opened ({error.strerror or error})"
        ) from None
    except TokenizerError:
        raise
    except Exception as error:  # tokenizers raises a bare Exception for bad JSON
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TokenizerError(
            f"data.tokenizer: {shown}: not a valid tokenizer.json ({shorten(first, 100)})"
        ) from None
    if tokenizer.get_vocab_size(with_added_tokens=True) == 0:
        raise TokenizerError(f"data.tokenizer: {shown}: the tokenizer has no tokens")
    return tokenizer


def check_tokenizer_fits(tokenizer, vocab_size: int, where: str) -> None:
    """Every id the tokenizer produces must have an embedding row: a tokenizer may have
    fewer tokens than `vocab_size` (checkpoints often pad the embedding), never more."""
    size = tokenizer.get_vocab_size(with_added_tokens=True)
    if size > vocab_size:
        raise TokenizerError(
            f"{where}: the tokenizer has {size:,} tokens but the model's vocabulary has "
            f"{vocab_size:,} rows; ids from {vocab_size:,} on would have no embedding"
        )


def build_tokenizer(data: DataConfig, texts: Iterable[str] | None = None, vocab_size: int | None = None):
    """The tokenizer `data.tokenizer` names. `bpe` needs the corpus `texts` and the
    model's `vocab_size`; `byte` and a tokenizer.json path need neither."""
    if data.tokenizer == "byte":
        return byte_tokenizer()
    if data.tokenizer == "bpe":
        if texts is None or vocab_size is None:
            raise TokenizerError("data.tokenizer='bpe' is trained on the corpus: pass texts and vocab_size")
        return train_bpe_tokenizer(texts, vocab_size)
    return load_tokenizer_file(data.tokenizer)


def tokenizer_vocab_size(data: DataConfig) -> int:
    """Vocabulary size of the tokenizer the data section names (resolves vocab_size: auto)."""
    if data.tokenizer == "byte":
        return BYTE_VOCAB_SIZE
    if data.tokenizer == "bpe":
        raise TokenizerError(
            f"data.tokenizer={data.tokenizer!r}: model.vocab_size cannot be 'auto' here; "
            "set model.vocab_size (the BPE vocabulary is trained to that size)"
        )
    return load_tokenizer_file(data.tokenizer).get_vocab_size(with_added_tokens=True)


def check_vocab_size(tokenizer, data: DataConfig, vocab_size: int) -> None:
    """The model's embedding must have exactly one row per token of its tokenizer."""
    tokenizer_size = tokenizer.get_vocab_size(with_added_tokens=True)
    if tokenizer_size != vocab_size:
        raise TokenizerError(
            f"vocabulary mismatch: data.tokenizer={data.tokenizer!r} has {tokenizer_size} tokens "
            f"but model.vocab_size={vocab_size}; set model.vocab_size to {tokenizer_size} or 'auto'"
        )


def special_tokens(tokenizer) -> SpecialTokens:
    """The end-of-text and padding tokens of `tokenizer` (None where it has none)."""
    eos = _first_known(tokenizer, KNOWN_EOS_TOKENS)
    pad = _first_known(tokenizer, KNOWN_PAD_TOKENS)
    return SpecialTokens(
        eos_token=eos,
        eos_id=tokenizer.token_to_id(eos) if eos else None,
        pad_token=pad,
        pad_id=tokenizer.token_to_id(pad) if pad else None,
    )


def hf_tokenizer_config(tokenizer, model_max_length: int) -> dict:
    """The `tokenizer_config.json` that transformers and onnxruntime-genai read beside
    tokenizer.json."""
    specials = special_tokens(tokenizer)
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": None,
        "eos_token": specials.eos_token,
        "pad_token": specials.pad_token,
        "unk_token": None,
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": model_max_length,
    }


def tokenizer_fingerprint(tokenizer) -> str:
    """A stable hash of the tokenizer's JSON: two tokenizers with the same fingerprint
    encode every text alike."""
    import hashlib

    canonical = json.dumps(json.loads(tokenizer.to_str()), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _first_known(tokenizer, candidates: tuple[str, ...]) -> str | None:
    return next((token for token in candidates if tokenizer.token_to_id(token) is not None), None)


def byte_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte, the alphabet of the ByteLevel pre-tokenizer."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    mapping = {byte: chr(byte) for byte in printable}
    extra = 0
    for byte in range(256):
        if byte not in mapping:
            mapping[byte] = chr(256 + extra)
            extra += 1
    return mapping

