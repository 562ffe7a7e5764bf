"""llama.cpp's pre-tokenizer names (`tokenizer.ggml.pre`) → the `tokenizers` pre-tokenizer
and normalizer of the byte-level BPE tokenizers they stand for: how text is cut into
pieces before the merges apply. llama.cpp keys its own splitting regexes by these names;
the regexes below are those of the models' published tokenizer.json files."""

from __future__ import annotations

# GPT-2's own split is the ByteLevel pre-tokenizer's built-in regex
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_SPLIT = (  # Llama 3's with single digits
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

GPT2 = "gpt2"
DIGITS_THEN_GPT2 = "digits then gpt2"  # every digit on its own, then GPT-2's split
SPLITS = {
    None: GPT2, "default": GPT2, "gpt2": GPT2, "gpt-2": GPT2, "phi-2": GPT2, "olmo": GPT2,
    "smollm": DIGITS_THEN_GPT2, "starcoder": DIGITS_THEN_GPT2, "refact": DIGITS_THEN_GPT2,
    "codeshell": DIGITS_THEN_GPT2,
    "llama-bpe": LLAMA3_SPLIT, "llama3": LLAMA3_SPLIT, "llama-v3": LLAMA3_SPLIT, "smaug-bpe": LLAMA3_SPLIT,
    "falcon3": LLAMA3_SPLIT, "dbrx": LLAMA3_SPLIT,
    "qwen2": QWEN2_SPLIT, "deepseek-r1-qwen": QWEN2_SPLIT, "megrez": QWEN2_SPLIT,
}
NFC = {"qwen2", "deepseek-r1-qwen", "megrez"}  # Qwen2's tokenizer.json normalizes to NFC first


def known(name: str | None) -> bool:
    return name in SPLITS


def pre_tokenizer(name: str | None):
    """The pre-tokenizer of `name`; GPT-2's for a name outside the table (see `known`)."""
    from tokenizers import Regex, pre_tokenizers

    split = SPLITS.get(name, GPT2)
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=split in (GPT2, DIGITS_THEN_GPT2))
    if split == GPT2:
        return byte_level
    if split == DIGITS_THEN_GPT2:
        return pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
    return pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(split), behavior="isolated"), byte_level])


def normalizer(name: str | None):
    from tokenizers import normalizers

    return normalizers.NFC() if name in NFC else None


# Text that every split above cuts differently: contractions, runs of digits, letters after
# punctuation, newlines, runs of spaces, and "e" + a combining accent (NFC composes it)
PROBE = "Hello world's 1234567 naïve  test\n\n  x!!  ?\tend 3.14 :Àb I'M e\u0301 \u00e9\r\nok"
WRITTEN = ("gpt-2", "smollm", "llama-bpe", "qwen2")  # one name per split, tried in this order


def name_of(tokenizer) -> str | None:
    """The llama.cpp name (of WRITTEN) whose pre-tokenizer and normalizer cut `PROBE`
    exactly as the `tokenizers` Tokenizer `tokenizer` does; None where none does."""
    found = _pieces(tokenizer.normalizer, tokenizer.pre_tokenizer)
    return next((name for name in WRITTEN if _pieces(normalizer(name), pre_tokenizer(name)) == found), None)


def _pieces(normalizer, pre_tokenizer) -> list[str] | None:
    if pre_tokenizer is None:
        return None
    text = normalizer.normalize_str(PROBE) if normalizer is not None else PROBE
    return [piece for piece, _ in pre_tokenizer.pre_tokenize_str(text)]
