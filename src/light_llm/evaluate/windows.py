"""Token ids → windows of `length` tokens for perplexity.

Windows are consecutive and do not overlap (the stride is the window length), starting at
the first token; each is scored on its own, from an empty context, so its first token is
never predicted: a window of L tokens predicts L - 1. At most `count` windows are taken,
fewer where the text is shorter (a text shorter than one window is an error)."""

from __future__ import annotations

import numpy as np

from light_llm.evaluate.errors import EvalError

DEFAULT_WINDOWS = 4
DEFAULT_WINDOW_LENGTH = 512


def window_length(requested: int | None, max_seq_len: int) -> int:
    """`requested` (default DEFAULT_WINDOW_LENGTH) shortened to the model's max_seq_len."""
    length = DEFAULT_WINDOW_LENGTH if requested is None else requested
    if length < 2:
        raise EvalError(f"window length {length}: a window needs at least 2 tokens (one to predict)")
    return min(length, max_seq_len)


def split_windows(ids: np.ndarray, count: int, length: int) -> np.ndarray:
    """[windows, length] int64: the first min(count, len(ids) // length) windows."""
    if count < 1:
        raise EvalError(f"--windows {count}: at least 1 window")
    if len(ids) == 0:
        raise EvalError("the text has no tokens")
    taken = min(count, len(ids) // length)
    if taken == 0:
        raise EvalError(f"the text has {len(ids)} tokens, fewer than one window of {length}; "
                        "use a longer text or a shorter --window-length")
    return np.ascontiguousarray(ids[: taken * length].reshape(taken, length))
