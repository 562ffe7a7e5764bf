"""Decode speed of backends through the contract, each against a baseline measured in the
same process: batch 1, a short prompt, then single-token KV-cache steps, best of a few
repeats. Reported as tokens/s and as a ratio to the baseline, never judged against a
wall-clock limit."""

from __future__ import annotations

import time

import numpy as np

from light_llm.runtime.generator import Run
from light_llm.runtime.feeds import past_from_presents, step_feeds
from light_llm.runtime.geometry import Geometry

PROMPT_LENGTH = 8
DECODE_STEPS = 24
REPEATS = 2


def decode_tokens_per_second(run: Run, geometry: Geometry, *, seed: int = 0) -> float:
    """Single-token decode steps per second after a prefill (batch 1), best of REPEATS."""
    steps = max(1, min(DECODE_STEPS, geometry.max_seq_len - PROMPT_LENGTH))
    prompt = np.random.default_rng(seed).integers(0, geometry.vocab_size, (1, PROMPT_LENGTH))
    best = float("inf")
    for _ in range(REPEATS):
        mask = np.ones_like(prompt)
        outputs = run(step_feeds(geometry, prompt, mask, None))
        start = time.perf_counter()
        for _ in range(steps):
            token = outputs["logits"][:, -1].argmax(-1)[:, None]
            mask = np.concatenate([mask, np.ones((1, 1), dtype=np.int64)], axis=1)
            outputs = run(step_feeds(geometry, token, mask, past_from_presents(outputs, geometry)))
        best = min(best, time.perf_counter() - start)
    return steps / best


def decode_speed_report(runs: dict[str, Run], geometry: Geometry, baseline: str) -> dict[str, float]:
    """{name}_decode_tokens_per_s for every run, and {name}_vs_{baseline} ratios."""
    if not geometry.cached:
        return {}
    speeds = {name: decode_tokens_per_second(run, geometry) for name, run in runs.items()}
    report = {f"{name}_decode_tokens_per_s": round(speed, 1) for name, speed in speeds.items()}
    for name, speed in speeds.items():
        if name != baseline:
            report[f"{name}_vs_{baseline}"] = round(speed / speeds[baseline], 2)
    return report
