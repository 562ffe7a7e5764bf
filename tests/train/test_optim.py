"""AdamW groups and the learning-rate schedule."""

from __future__ import annotations

import math

import pytest

from light_llm.schemas.train import TrainConfig
from light_llm.train.optim import build_optimizer, learning_rate
from train_helpers import tiny_spec


def test_weight_decay_applies_to_matrices_only() -> None:
    from light_llm.compiler.build import build
    from light_llm.compiler.pipeline import lower_spec
    from light_llm.compiler.resolve import resolve_spec

    model = build(lower_spec(resolve_spec(tiny_spec())))
    optimizer = build_optimizer(model, TrainConfig(weight_decay=0.1))
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == 0.1 and all(p.ndim == 2 for p in decayed["params"])
    assert plain["weight_decay"] == 0.0 and all(p.ndim == 1 for p in plain["params"])
    assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))


def test_warmup_then_cosine_to_the_floor() -> None:
    config = TrainConfig(steps=110, warmup_steps=10, learning_rate=1e-3, min_lr_ratio=0.1)
    rates = [learning_rate(step, config) for step in range(110)]
    assert rates[0] == pytest.approx(1e-4) and rates[9] == pytest.approx(1e-3)
    assert rates[10] == pytest.approx(1e-3) and rates[-1] == pytest.approx(1e-4)
    middle = 10 + 99 // 2
    assert rates[middle] == pytest.approx(1e-4 + 0.9e-3 * 0.5 * (1 + math.cos(math.pi * 49 / 99)))
    assert all(a >= b for a, b in zip(rates[10:], rates[11:]))
    assert learning_rate(0, TrainConfig(steps=5, warmup_steps=0)) == pytest.approx(1e-3)
