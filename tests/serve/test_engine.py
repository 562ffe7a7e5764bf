"""The engine without a server, on real onnxruntime sessions: rows that join and leave a
running batch get the same greedy tokens as light_llm.runtime, whether the graph writes
its KV cache into shared buffers in place (the fused export, whose keys are rotated by
slot and turned when a row moves) or returns new presents."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from light_llm.runtime import generate_ids
from light_llm.runtime.sampling import Sampling
from light_llm.serve.engine import Engine, Job, Stats
from light_llm.serve.model import load_served_model


def _engine_tokens(model, prompts: list[list[int]], max_tokens: list[int], shares_kv_buffer: bool,
                   **options) -> tuple[list[list[int]], Stats]:
    generator = model.generator
    options = {"slot_rotation": model.slot_rotation} | options
    engine = Engine(generator.run, generator.geometry, eos_id=None, pad_id=0, max_batch=3,
                    shares_kv_buffer=shares_kv_buffer, **options)
    tokens: list[list[int]] = [[] for _ in prompts]
    finished = threading.Semaphore(0)

    def deliver(row: int):
        return lambda token, reason: tokens[row].append(token) if token is not None else finished.release()

    for row, (prompt, count) in enumerate(zip(prompts, max_tokens)):  # 3 rows at once: others queue, join later
        engine.submit(Job(prompt=prompt, max_tokens=count, sampling=Sampling(), deliver=deliver(row)))
    engine.start()  # every job queued first: the same steps every run
    try:
        for _ in prompts:
            assert finished.acquire(timeout=60)
    finally:
        engine.stop()
    assert engine.stats.largest_batch == 3 and engine.stats.cancelled == 0
    return tokens, engine.stats


@pytest.mark.parametrize("export, shares", [("fused_export", True), ("serve_export", False)])
def test_rows_joining_and_leaving_decode_like_the_runtime(request, monkeypatch, export, shares) -> None:
    model = load_served_model(request.getfixturevalue(export))
    assert model.shares_kv_buffer is shares  # head_dim 16: GroupQueryAttention; 8: standard ops
    generator = model.generator
    rng = np.random.default_rng(0)
    prompts = [rng.integers(1, generator.geometry.vocab_size, int(rng.integers(2, 20))).tolist() for _ in range(7)]
    max_tokens = [int(rng.integers(1, 30)) for _ in prompts]
    expected = [generate_ids(generator.run, generator.geometry, [prompt], max_new_tokens=count)[0]
                for prompt, count in zip(prompts, max_tokens)]
    for shared in {shares, False}:
        assert _engine_tokens(model, prompts, max_tokens, shared)[0] == expected
    assert (model.slot_rotation is not None) is shares  # the fused export rotates keys by slot
    if shares:
        assert _engine_tokens(model, prompts, max_tokens, True, slot_rotation=None)[0] != expected  # moved, not turned
        monkeypatch.setattr("light_llm.runtime.kv_buffers.KV_ROOM", 3)  # copied into larger buffers again and again
        assert _engine_tokens(model, prompts, max_tokens, True)[0] == expected


def test_a_prefill_budget_splits_newcomers_and_keeps_the_tokens(fused_export) -> None:
    """Prompts of 5 tokens: with prefill_tokens 12 at most two newcomers per prefill call
    (3 × 5 > 12), with 1 one; the rows already running decode between the calls."""
    model = load_served_model(fused_export)
    generator = model.generator
    rng = np.random.default_rng(1)
    prompts = [rng.integers(1, generator.geometry.vocab_size, 5).tolist() for _ in range(6)]
    max_tokens = [4, 9, 3, 12, 6, 8]
    expected = [generate_ids(generator.run, generator.geometry, [prompt], max_new_tokens=count)[0]
                for prompt, count in zip(prompts, max_tokens)]
    for budget, calls in ((512, 2), (12, 3), (1, 6)):  # 512: 3 rows, then 3 more one after the other
        tokens, stats = _engine_tokens(model, prompts, max_tokens, True, prefill_tokens=budget)
        assert tokens == expected and stats.prefills >= calls
    assert stats.prefills == 6  # one newcomer always goes, alone


def test_an_idle_engine_holds_no_kv_buffers(fused_export) -> None:
    """Between batches the session's binding lets go of the finished rows' buffers."""
    import time

    generator = load_served_model(fused_export).generator
    engine = Engine(generator.run, generator.geometry, eos_id=None, pad_id=0, shares_kv_buffer=True)
    finished = threading.Semaphore(0)
    engine.submit(Job(prompt=[5, 6, 7], max_tokens=4, sampling=Sampling(),
                      deliver=lambda token, reason: token is None and finished.release()))
    engine.start()
    try:
        assert finished.acquire(timeout=60)
        deadline = time.monotonic() + 10
        while engine.run.bound_inputs and time.monotonic() < deadline:
            time.sleep(0.01)
        assert engine.run.bound_inputs == {} and engine.run.bound_outputs == {}
    finally:
        engine.stop()
