"""Choosing the next token from logits: greedy, or sampling with temperature, top-k and
top-p (nucleus), reproducible from a seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from light_llm.errors import GenerationError


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.0  # 0: greedy
    top_k: int = 0  # 0: no limit
    top_p: float = 1.0  # 1: no limit
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise GenerationError(f"temperature={self.temperature}: allowed: 0 (greedy) or more")
        if self.top_k < 0:
            raise GenerationError(f"top_k={self.top_k}: allowed: 0 (no limit) or more")
        if not 0.0 < self.top_p <= 1.0:
            raise GenerationError(f"top_p={self.top_p}: allowed: 0 < top_p <= 1")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


def next_tokens(logits: np.ndarray, sampling: Sampling, rng: np.random.Generator) -> np.ndarray:
    """logits: [B, V] → token ids [B]."""
    if sampling.greedy:
        return logits.argmax(axis=-1)
    scaled = logits.astype(np.float64) / sampling.temperature
    if sampling.top_k:
        kth = np.sort(scaled, axis=-1)[:, -min(sampling.top_k, scaled.shape[-1])][:, None]
        scaled = np.where(scaled < kth, -np.inf, scaled)
    probs = _softmax(scaled)
    if sampling.top_p < 1.0:
        probs = _nucleus(probs, sampling.top_p)
    return np.array([rng.choice(len(row), p=row) for row in probs])


def _softmax(x: np.ndarray) -> np.ndarray:
    exp = np.exp(x - x.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def _nucleus(probs: np.ndarray, top_p: float) -> np.ndarray:
    """Keeps the most likely tokens whose probabilities first reach top_p, renormalised."""
    order = np.argsort(-probs, axis=-1)
    sorted_probs = np.take_along_axis(probs, order, axis=-1)
    before = np.cumsum(sorted_probs, axis=-1) - sorted_probs  # mass of the better tokens
    keep_sorted = before < top_p  # the best token is always kept
    keep = np.zeros_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=-1)
    kept = np.where(keep, probs, 0.0)
    return kept / kept.sum(axis=-1, keepdims=True)
