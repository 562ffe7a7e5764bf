"""Tokens on disk and the batches drawn from them.

The corpus is tokenized once into `RUN/data/tokens.bin` (a flat memory-mapped array,
documents separated by the end-of-text token) with `tokens.json` beside it naming the
tokenizer and corpus fingerprints. A cache made by another tokenizer or from other text
is refused with a clear error, never silently reused or overwritten. The end of the
stream is held out for validation.

Training batches are random contiguous windows of seq_len + 1 tokens whose offsets come
from a seeded numpy PCG64 generator; its state is plain JSON, saved in every checkpoint.
"""

from __future__ import annotations

from light_llm.train.errors import TrainingError

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from light_llm.atomic_file import write_atomically
from light_llm.train.corpus import Corpus
from light_llm.tokenizer import special_tokens, tokenizer_fingerprint

TOKENS_FILE = "tokens.bin"
META_FILE = "tokens.json"
TOKENIZER_FILE = "tokenizer.json"
_ENCODE_CHUNK = 256


class DataError(TrainingError):
    """Data that cannot train this model: a stale cache, too few tokens."""


@dataclass(frozen=True)
class TokenSplits:
    train: np.ndarray
    validation: np.ndarray


def cached_tokenizer(folder: Path, corpus: Corpus, kind: str, vocab_size: int):
    """The tokenizer saved with a cache of `corpus` made by the same kind of tokenizer at
    `vocab_size`, if any (so a trained BPE is reused, not trained again)."""
    meta = _read_meta(folder)
    wanted = (kind, corpus.fingerprint, vocab_size)
    if meta is None or (meta["tokenizer_kind"], meta["corpus_fingerprint"], meta["vocab_size"]) != wanted:
        return None
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_file(str(folder / TOKENIZER_FILE))
    except Exception:  # a damaged saved tokenizer: train it again (the cache is rewritten)
        sys.stderr.write(f"warning: {folder / TOKENIZER_FILE} is damaged; training the tokenizer again\n")
        (folder / META_FILE).unlink(missing_ok=True)
        return None


def load_or_build_tokens(folder: Path, corpus: Corpus, tokenizer, kind: str) -> np.ndarray:
    """The token stream of `corpus`, from the cache in `folder` or tokenized now."""
    fingerprint = tokenizer_fingerprint(tokenizer)
    meta = _read_meta(folder)
    if meta is not None:
        if meta["tokenizer_fingerprint"] != fingerprint:
            raise DataError(
                f"{folder / TOKENS_FILE} was made by another tokenizer "
                f"({meta['tokenizer_kind']}, fingerprint {meta['tokenizer_fingerprint']}; this "
                f"run's is {kind}, {fingerprint}); delete {folder} to tokenize again, or use "
                "another --out"
            )
        if meta["corpus_fingerprint"] != corpus.fingerprint:
            raise DataError(
                f"{folder / TOKENS_FILE} was made from other text (corpus fingerprint "
                f"{meta['corpus_fingerprint']}, now {corpus.fingerprint}); delete {folder} to "
                "tokenize again, or use another --out"
            )
        return _cached_tokens(folder, meta)
    tokens = tokenize(corpus, tokenizer)
    _write_cache(folder, tokens, tokenizer, kind, fingerprint, corpus.fingerprint)
    return np.memmap(folder / TOKENS_FILE, dtype=tokens.dtype, mode="r", shape=tokens.shape)


def tokenize(corpus: Corpus, tokenizer) -> np.ndarray:
    """One flat stream: each document's tokens followed by the end-of-text token."""
    vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
    dtype = np.uint16 if vocab_size <= np.iinfo(np.uint16).max + 1 else np.uint32
    eos = special_tokens(tokenizer).eos_id
    separator = [] if eos is None else [eos]
    if _is_byte_tokenizer(tokenizer):
        # ids are the UTF-8 bytes: skip the tokenizer (same ids, far faster)
        pieces = [np.frombuffer(doc.encode("utf-8"), dtype=np.uint8) for doc in corpus.documents]
    else:
        pieces = []
        for start in range(0, len(corpus.documents), _ENCODE_CHUNK):
            batch = corpus.documents[start : start + _ENCODE_CHUNK]
            pieces += [np.asarray(e.ids) for e in tokenizer.encode_batch(batch, add_special_tokens=False)]
    stream = []
    for piece in pieces:
        stream += [piece.astype(dtype), np.asarray(separator, dtype=dtype)]
    return np.concatenate(stream)


def read_token_cache(folder: Path) -> tuple[dict, np.ndarray] | None:
    """(meta, tokens) of the cache in `folder`, read-only; None where there is none or it
    is damaged (left as it is)."""
    if not (folder / META_FILE).is_file() or _tokens_problem(folder) is not None:
        return None
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    return meta, _cached_tokens(folder, meta)


def _cached_tokens(folder: Path, meta: dict) -> np.ndarray:
    return np.memmap(folder / TOKENS_FILE, dtype=meta["dtype"], mode="r", shape=(meta["num_tokens"],))


def split_tokens(tokens: np.ndarray, validation_fraction: float, seq_len: int) -> TokenSplits:
    """The first part trains, the last `validation_fraction` validates; each must hold a
    window of seq_len + 1 tokens."""
    start = len(tokens) - int(len(tokens) * validation_fraction)
    splits = TokenSplits(tokens[:start], tokens[start:])
    for name, part in (("training", splits.train), ("validation", splits.validation)):
        if len(part) < seq_len + 1:
            raise DataError(
                f"the corpus is too short for seq_len={seq_len}: its {name} split has "
                f"{len(part)} tokens of the {seq_len + 1} one window needs ({len(tokens)} tokens "
                "in all); use more text, a shorter train.seq_len / model.max_seq_len, or a "
                "different data.validation_fraction"
            )
    return splits


class WindowSampler:
    """Random windows of seq_len + 1 tokens; `state` / `load_state` round-trip through JSON."""

    def __init__(self, tokens: np.ndarray, seq_len: int, seed: int):
        self.tokens = tokens
        self.seq_len = seq_len
        self.generator = np.random.Generator(np.random.PCG64(seed))

    def offsets(self, count: int) -> np.ndarray:
        return self.generator.integers(0, len(self.tokens) - self.seq_len, size=count)

    def windows(self, offsets: np.ndarray) -> torch.Tensor:
        """[len(offsets), seq_len + 1] int64."""
        rows = [self.tokens[offset : offset + self.seq_len + 1] for offset in offsets]
        return torch.from_numpy(np.stack(rows).astype(np.int64))

    def state(self) -> dict:
        return self.generator.bit_generator.state

    def load_state(self, state: dict) -> None:
        self.generator.bit_generator.state = state


def validation_offsets(num_tokens: int, seq_len: int, count: int) -> np.ndarray:
    """`count` window offsets spread evenly over the validation split (the same every eval)."""
    return np.linspace(0, num_tokens - seq_len - 1, num=count).astype(np.int64)


def unigram_entropy(tokens: np.ndarray, vocab_size: int) -> float:
    """Entropy in nats of the token frequencies: the loss of the best model that ignores
    context, the bar a trained model must clear."""
    counts = np.bincount(np.asarray(tokens), minlength=vocab_size).astype(np.float64)
    probabilities = counts[counts > 0] / counts.sum()
    return float(-(probabilities * np.log(probabilities)).sum())


def _is_byte_tokenizer(tokenizer) -> bool:
    from light_llm.tokenizer import byte_tokenizer

    return tokenizer_fingerprint(tokenizer) == tokenizer_fingerprint(byte_tokenizer())


_META_TYPES = {
    "tokenizer_kind": str,
    "tokenizer_fingerprint": str,
    "corpus_fingerprint": str,
    "vocab_size": int,
    "dtype": str,
    "num_tokens": int,
}


def _read_meta(folder: Path) -> dict | None:
    """The cache's meta data, or None where there is no cache. A damaged cache (meta that
    is not the JSON this module writes, or a token file of the wrong size) is no cache:
    it is reported on stderr in one line and the corpus is tokenized again."""
    path = folder / META_FILE
    if not path.is_file():
        return None
    problem = _meta_problem(folder)
    if problem is None:
        return json.loads(path.read_text(encoding="utf-8"))
    sys.stderr.write(f"warning: {folder}: damaged token cache ({problem}); tokenizing the corpus again\n")
    path.unlink(missing_ok=True)
    return None


def _tokens_problem(folder: Path) -> str | None:
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return f"{META_FILE} cannot be read: {str(error).splitlines()[0][:80]}"
    if not isinstance(meta, dict):
        return f"{META_FILE} is not a JSON object"
    for key, kind in _META_TYPES.items():
        if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
            return f"{META_FILE} has no valid {key!r}"
    if meta["dtype"] not in ("uint16", "uint32") or meta["num_tokens"] < 0:
        return f"{META_FILE} names dtype {meta['dtype'][:20]!r} and {meta['num_tokens']} tokens"
    tokens = folder / TOKENS_FILE
    expected = meta["num_tokens"] * np.dtype(meta["dtype"]).itemsize
    if not tokens.is_file() or tokens.stat().st_size != expected:
        return f"{TOKENS_FILE} does not hold the {meta['num_tokens']:,} tokens {META_FILE} names"
    return None


def _meta_problem(folder: Path) -> str | None:
    problem = _tokens_problem(folder)
    if problem is None and not (folder / TOKENIZER_FILE).is_file():
        return f"{TOKENIZER_FILE} is missing"
    return problem


def _write_cache(folder: Path, tokens: np.ndarray, tokenizer, kind: str, fingerprint: str, corpus: str) -> None:
    """Tokens and tokenizer first, the meta file last: a cache without meta is no cache."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "tokenizer_kind": kind,
        "tokenizer_fingerprint": fingerprint,
        "corpus_fingerprint": corpus,
        "vocab_size": tokenizer.get_vocab_size(with_added_tokens=True),
        "dtype": tokens.dtype.name,
        "num_tokens": len(tokens),
    }
    write_atomically(folder / TOKENS_FILE, tokens.tobytes())
    write_atomically(folder / TOKENIZER_FILE, tokenizer.to_str().encode())
    write_atomically(folder / META_FILE, (json.dumps(meta, indent=2) + "\n").encode())

