"""A `tokenizers` byte-level BPE tokenizer (light_llm's `byte` and `bpe` tokenizers, and
the byte-level tokenizer.json of an imported model) → the `tokenizer.ggml.*` metadata of
llama.cpp's "gpt2" vocabulary: the inverse of tokenizer.py's byte-level path.

llama.cpp splits text with the regex its pre-tokenizer name stands for (pre_tokenizers.py
finds the name whose split equals the tokenizer's), spells each piece's bytes in GPT-2's
alphabet and applies the merges by rank, as `tokenizers` does; added tokens are matched
whole first (CONTROL where special, USER_DEFINED otherwise). A vocabulary without merges
(the `byte` tokenizer) encodes byte by byte under any split. The token list is padded to
the model's vocabulary size (llama.cpp sizes the embedding by it) with unused tokens."""

from __future__ import annotations

import json
from dataclasses import dataclass

from light_llm.errors import LightLLMError
from light_llm.interop.gguf import pre_tokenizers
from light_llm.interop.gguf.tokenizer import CONTROL, USER_DEFINED

NORMAL, UNUSED = 1, 5  # llama.cpp's token types (tokenizer.py names the others)


class VocabularyError(LightLLMError):
    """A tokenizer that has no GGUF form light_llm writes; the message says why."""


@dataclass(frozen=True)
class GGUFVocabulary:
    tokens: list[str]  # tokenizer.ggml.tokens, id order, padded to the model's vocabulary
    token_types: list[int]  # tokenizer.ggml.token_type
    merges: list[str]  # tokenizer.ggml.merges, "left right" in rank order
    pre: str  # tokenizer.ggml.pre
    add_bos: bool  # the tokenizer puts a special token before every text
    add_eos: bool  # and after it
    padded: int  # unused tokens added after the tokenizer's own


def gguf_vocabulary(tokenizer, vocab_size: int) -> GGUFVocabulary:
    """The "gpt2" vocabulary of `tokenizer` for a model of `vocab_size` embedding rows."""
    data = json.loads(tokenizer.to_str())
    model = data.get("model") or {}
    if model.get("type") != "BPE" or (data.get("decoder") or {}).get("type") != "ByteLevel":
        raise VocabularyError(f"the tokenizer ({model.get('type')} model, {_kind(data.get('decoder'))} decoder) "
                              f"is not byte-level BPE; GGUF export writes byte-level BPE tokenizers only")
    merges = [merge if isinstance(merge, str) else " ".join(merge) for merge in model.get("merges", [])]
    pre = pre_tokenizers.name_of(tokenizer) if merges else pre_tokenizers.WRITTEN[0]
    merges = merges or _inert_merge(data)
    if pre is None:
        raise VocabularyError(f"the tokenizer's pre-tokenizer ({_kind(data.get('pre_tokenizer'))}) splits text "
                              f"unlike every llama.cpp pre-tokenizer light_llm writes "
                              f"({', '.join(pre_tokenizers.WRITTEN)})")
    size = tokenizer.get_vocab_size(with_added_tokens=True)
    tokens: list[str | None] = [None] * size
    types = [NORMAL] * size
    for token, index in model.get("vocab", {}).items():
        tokens[index] = token
    for added in data.get("added_tokens", []):
        tokens[added["id"]] = added["content"]
        types[added["id"]] = CONTROL if added.get("special") else USER_DEFINED
    holes = [index for index, token in enumerate(tokens) if token is None]
    if holes:
        raise VocabularyError(f"the tokenizer has no token of id {holes[0]} ({len(holes)} ids unused below "
                              f"{size}); llama.cpp needs one token per id")
    padding = [f"[PAD{index}]" for index in range(size, vocab_size)]
    return GGUFVocabulary(tokens + padding, types + [UNUSED] * len(padding), merges, pre,
                          *_added_ends(tokenizer), len(padding))


def _inert_merge(data: dict) -> list[str]:
    """A merge that never applies, for a vocabulary without merges (a GGUF array cannot be
    empty): two special tokens, which are matched whole before the merges run."""
    specials = [added["content"] for added in data.get("added_tokens", []) if added.get("special")]
    if len(specials) < 2 or any(" " in token for token in specials[:2]):
        raise VocabularyError("the tokenizer has no merges and fewer than two special tokens; a GGUF "
                              "vocabulary needs at least one merge")
    return [f"{specials[0]} {specials[1]}"]


def _added_ends(tokenizer) -> tuple[bool, bool]:
    """Whether the tokenizer's post-processor adds a token before and after a text."""
    plain, full = tokenizer.encode("a", add_special_tokens=False).ids, tokenizer.encode("a").ids
    return full[0] != plain[0], full[-1] != plain[-1]


def _kind(section) -> str:
    return (section or {}).get("type", "no")
