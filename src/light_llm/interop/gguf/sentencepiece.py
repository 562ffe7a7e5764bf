"""A SentencePiece BPE vocabulary as llama.cpp stores it (`tokenizer.ggml.model` "llama":
pieces with scores, `<0xNN>` byte tokens, usually no merges) → the parts of a `tokenizers`
Tokenizer that behave like it: BPE with byte fallback, "▁" for spaces (one prepended to
the text where `add_space_prefix` says so, llama.cpp's default), and merges recovered from
the scores where the file lists none: every way to split a piece into two pieces of the
vocabulary is a merge, ranked by the merged piece's score (best first)."""

from __future__ import annotations

SPACE = "▁"


def recovered_merges(tokens: list[str], scores: list[float]) -> list[tuple[str, str]]:
    """Merges implied by a scored vocabulary: higher score first; among equal scores,
    longer left pieces, then longer right pieces, first (the order transformers' GGUF
    reader gives them, so both tokenize alike)."""
    ids = {token: index for index, token in enumerate(tokens)}  # a repeated piece: its last id and score,
    found = []  # as llama.cpp looks pieces up
    for token, score in dict(zip(tokens, scores)).items():
        splits = [(token[:cut], token[cut:]) for cut in range(1, len(token))
                  if token[:cut] in ids and token[cut:] in ids]
        splits.sort(key=lambda pair: (ids[pair[0]], ids[pair[1]]))
        found += [(score, left, right) for left, right in splits]
    found.sort(key=lambda merge: (merge[0], len(merge[1]), len(merge[2])), reverse=True)
    return [(left, right) for _, left, right in found]


def sentencepiece_parts(tokens: list[str], scores: list[float], merges: list[tuple[str, str]] | None,
                        unk: str | None, space_prefix: bool):
    """(model, pre_tokenizer, decoder) of the vocabulary."""
    from tokenizers import decoders, models, pre_tokenizers

    vocab = {token: index for index, token in enumerate(tokens)}
    model = models.BPE(vocab=vocab, merges=merges if merges is not None else recovered_merges(tokens, scores),
                       unk_token=unk, fuse_unk=True, byte_fallback=True)
    pre = pre_tokenizers.Metaspace(replacement=SPACE, prepend_scheme="first" if space_prefix else "never",
                                   split=False)
    steps = [decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse()]
    if space_prefix:
        steps.append(decoders.Strip(content=" ", left=1, right=0))
    return model, pre, decoders.Sequence(steps)
