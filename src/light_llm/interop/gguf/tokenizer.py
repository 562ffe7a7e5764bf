"""The tokenizer a GGUF file describes in its metadata (`tokenizer.ggml.*`) → a
`tokenizers` Tokenizer, saved as the model folder's tokenizer.json.

Byte-level BPE (`tokenizer.ggml.model` "gpt2"): the vocabulary in file order (ids are
positions), the merges in rank order, the pre-tokenizer `tokenizer.ggml.pre` names
(pre_tokenizers.py). SentencePiece BPE ("llama"): sentencepiece.py. In both, tokens marked
CONTROL become special added tokens and USER_DEFINED ones plain added tokens, so both are
matched whole in text as llama.cpp matches them."""

from __future__ import annotations

from dataclasses import dataclass

from light_llm.interop.gguf import pre_tokenizers
from light_llm.interop.gguf.file import GGUFError, GGUFFile

SUPPORTED_MODELS = ("gpt2", "llama")  # byte-level BPE, SentencePiece BPE
CONTROL, USER_DEFINED = 3, 4  # llama.cpp's token types (1 normal, 2 unknown, 5 unused, 6 byte)


@dataclass
class GGUFTokenizer:
    tokenizer: object  # tokenizers.Tokenizer
    tokens: list[str]  # as the file spells them: the special tokens' contents
    special_ids: list[int]  # CONTROL tokens
    added_ids: list[int]  # USER_DEFINED tokens (matched whole, not special)
    note: str | None  # what the import should tell the user about it


def unsupported_reason(file: GGUFFile) -> str | None:
    """Why the file's tokenizer cannot be converted, or None where it can."""
    model = file.get("tokenizer.ggml.model")
    if model is None or file.get("tokenizer.ggml.tokens") is None:
        return f"{file.path.name} has no tokenizer metadata"
    if model not in SUPPORTED_MODELS:
        return (f"tokenizer.ggml.model {model!r} is not converted (supported: gpt2, byte-level BPE; "
                f"llama, SentencePiece BPE)")
    if model == "gpt2" and file.get("tokenizer.ggml.merges") is None:
        return "the byte-level BPE tokenizer has no tokenizer.ggml.merges"
    if model == "llama" and file.get("tokenizer.ggml.merges") is None and file.get("tokenizer.ggml.scores") is None:
        return "the SentencePiece tokenizer has neither tokenizer.ggml.merges nor tokenizer.ggml.scores"
    return None


def gguf_tokenizer(file: GGUFFile) -> GGUFTokenizer:
    """The file's tokenizer (call only where `unsupported_reason` is None)."""
    from tokenizers import AddedToken

    tokens = list(file.get("tokenizer.ggml.tokens"))
    types = list(file.get("tokenizer.ggml.token_type") or [1] * len(tokens))
    if len(types) != len(tokens):
        raise GGUFError(f"{file.path}: tokenizer.ggml.token_type has {len(types)} entries for {len(tokens)} tokens")
    sentencepiece = file.get("tokenizer.ggml.model") == "llama"
    tokenizer, note = (_sentencepiece(file, tokens) if sentencepiece else _byte_level(file, tokens, types))
    special = [index for index, kind in enumerate(types) if kind == CONTROL]
    added = [index for index, kind in enumerate(types) if kind == USER_DEFINED]
    tokenizer.add_special_tokens([AddedToken(tokens[i], special=True, normalized=False) for i in special])
    tokenizer.add_tokens([AddedToken(tokens[i], special=False, normalized=False) for i in added])
    tokenizer.post_processor = _post_processor(file, tokens, byte_level=not sentencepiece)
    return GGUFTokenizer(tokenizer, tokens, special, added, note)


def _byte_level(file: GGUFFile, tokens: list[str], types: list[int]):
    from tokenizers import Tokenizer, decoders, models

    added = {token for token, kind in zip(tokens, types) if kind in (CONTROL, USER_DEFINED)}
    merges = [_merge(file, line) for line in file.get("tokenizer.ggml.merges")]
    # added tokens are matched whole before the merges run: a merge of two never applies
    merges = [merge for merge in merges if not set(merge) <= added]
    tokenizer = Tokenizer(models.BPE(vocab=_byte_level_vocab(tokens, types), merges=merges, fuse_unk=False))
    pre = file.get("tokenizer.ggml.pre")
    tokenizer.pre_tokenizer = pre_tokenizers.pre_tokenizer(pre)
    if (normalizer := pre_tokenizers.normalizer(pre)) is not None:
        tokenizer.normalizer = normalizer
    tokenizer.decoder = decoders.ByteLevel()
    note = None if pre_tokenizers.known(pre) else (
        f"tokenizer.ggml.pre {pre!r} is not a pre-tokenizer light_llm knows: text is split as GPT-2 splits it, "
        f"which may differ from llama.cpp on some text")
    return tokenizer, note


def _sentencepiece(file: GGUFFile, tokens: list[str]):
    from tokenizers import Tokenizer

    from light_llm.interop.gguf.sentencepiece import sentencepiece_parts

    listed = file.get("tokenizer.ggml.merges")
    merges = [_merge(file, line) for line in listed] if listed is not None else None
    scores = list(file.get("tokenizer.ggml.scores") or [])
    if merges is None and len(scores) != len(tokens):
        raise GGUFError(f"{file.path}: tokenizer.ggml.scores has {len(scores)} entries for {len(tokens)} tokens")
    unk = _special(file, tokens, "unknown")
    model, pre, decoder = sentencepiece_parts(tokens, scores, merges, tokens[unk] if unk is not None else None,
                                              bool(file.get("tokenizer.ggml.add_space_prefix", True)))
    tokenizer = Tokenizer(model)
    tokenizer.pre_tokenizer, tokenizer.decoder = pre, decoder
    return tokenizer, None


def _merge(file: GGUFFile, line: str) -> tuple[str, str]:
    left, space, right = line.partition(" ")
    if not space or not left or not right:
        raise GGUFError(f"{file.path}: tokenizer.ggml.merges holds {line!r}, not two tokens separated by a space")
    return left, right


def _byte_level_vocab(tokens: list[str], types: list[int]) -> dict[str, int]:
    """token → id. A normal token spelled with characters outside the byte-level alphabet
    (some converters store raw text) is respelled byte by byte; added tokens keep their
    spelling (they are matched before the byte-level step)."""
    from light_llm.tokenizer import byte_to_unicode

    spelling = byte_to_unicode()
    alphabet = set(spelling.values())
    vocab: dict[str, int] = {}
    for index, (token, kind) in enumerate(zip(tokens, types)):
        if kind not in (CONTROL, USER_DEFINED) and not set(token) <= alphabet:
            token = "".join(spelling[byte] for byte in token.encode("utf-8"))
        vocab[token] = index  # a repeated token: its last id, as llama.cpp looks tokens up
    return vocab


def _post_processor(file: GGUFFile, tokens: list[str], byte_level: bool):
    """ByteLevel offsets (byte-level BPE), and the BOS/EOS the file asks to add around every
    text (llama.cpp adds BOS to a SentencePiece vocabulary unless the file says not to)."""
    from tokenizers import processors

    steps = [processors.ByteLevel(trim_offsets=False)] if byte_level else []
    bos = _special(file, tokens, "bos") if file.get("tokenizer.ggml.add_bos_token", not byte_level) else None
    eos = _special(file, tokens, "eos") if file.get("tokenizer.ggml.add_eos_token", False) else None
    if bos is not None or eos is not None:
        ends = [(tokens[i], i) for i in (bos, eos) if i is not None]
        before = f"{tokens[bos]} " if bos is not None else ""
        after = f" {tokens[eos]}" if eos is not None else ""
        steps.append(processors.TemplateProcessing(
            single=f"{before}$A{after}", pair=f"{before}$A{after} {before}$B:1{after}", special_tokens=ends))
    return processors.Sequence(steps)


def _special(file: GGUFFile, tokens: list[str], name: str) -> int | None:
    index = file.get(f"tokenizer.ggml.{name}_token_id")
    if index is not None and not 0 <= index < len(tokens):
        raise GGUFError(f"{file.path}: tokenizer.ggml.{name}_token_id={index} is outside the "
                        f"vocabulary of {len(tokens)} tokens")
    return index
