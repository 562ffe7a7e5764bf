"""Logits → what perplexity and agreement are computed from, position by position."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from light_llm.evaluate.errors import EvalError

Logits = Callable[[np.ndarray], np.ndarray]  # tokens [1, L] int64 → logits [1, L, vocab] float32


@dataclass
class Scores:
    """Per predicted position of every window (positions 0..L-2 predict tokens 1..L-1)."""

    nll: list[np.ndarray] = field(default_factory=list)  # per window: -log p(next token), float64 [L-1]
    top1: list[np.ndarray] = field(default_factory=list)  # per window: the argmax token [L-1]

    @property
    def tokens(self) -> int:
        return sum(len(window) for window in self.nll)

    @property
    def perplexity(self) -> float:
        """exp of the mean negative log-likelihood over every predicted token."""
        return math.exp(float(np.concatenate(self.nll).mean()))

    def agreement(self, other: "Scores") -> float:
        """Share of the predicted positions where both top-1 tokens agree."""
        return float((np.concatenate(self.top1) == np.concatenate(other.top1)).mean())


def window_scores(logits: np.ndarray, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """logits [L, V], tokens [L] → (nll [L-1] float64, top-1 [L-1])."""
    predicting = logits[:-1]  # [L-1, V]
    peak = predicting.max(axis=-1)
    total = np.exp(predicting - peak[:, None]).sum(axis=-1, dtype=np.float64)
    chosen = predicting[np.arange(len(predicting)), tokens[1:]]
    return peak + np.log(total) - chosen, predicting.argmax(axis=-1)


def score(logits: Logits, windows: np.ndarray, on_window: Callable[[int, int], None] | None = None) -> Scores:
    """Every window of `windows` [N, L] through `logits`, one at a time (batch 1).
    Non-finite logits give a non-finite perplexity (which no gate accepts)."""
    result = Scores()
    for index, window in enumerate(windows):
        out = logits(window[None, :])
        if out.shape[:2] != (1, len(window)):
            raise EvalError(f"window {index + 1}: logits of shape {out.shape} for {len(window)} tokens")
        nll, top1 = window_scores(out[0], window)
        result.nll.append(nll)
        result.top1.append(top1)
        if on_window is not None:
            on_window(index + 1, len(windows))
    return result
