"""Greedy, temperature, top-k and top-p choices on hand-made logits."""

from __future__ import annotations

import numpy as np
import pytest

from light_llm.runtime.sampling import Sampling, next_tokens

LOGITS = np.log(np.array([[0.5, 0.3, 0.15, 0.05], [0.05, 0.15, 0.3, 0.5]]))


def draws(sampling: Sampling, n: int = 400) -> np.ndarray:
    rng = np.random.default_rng(sampling.seed)
    return np.stack([next_tokens(LOGITS, sampling, rng) for _ in range(n)])  # [n, 2]


def test_greedy_is_argmax():
    assert next_tokens(LOGITS, Sampling(), np.random.default_rng(0)).tolist() == [0, 3]


def test_top_k_limits_choices():
    chosen = draws(Sampling(temperature=1.0, top_k=2, seed=0))
    assert set(chosen[:, 0]) == {0, 1} and set(chosen[:, 1]) == {2, 3}


def test_top_p_keeps_the_smallest_set_reaching_p():
    chosen = draws(Sampling(temperature=1.0, top_p=0.7, seed=0))  # 0.5 + 0.3 reach 0.7
    assert set(chosen[:, 0]) == {0, 1}


def test_temperature_sharpens_and_flattens():
    cold = draws(Sampling(temperature=0.2, seed=0))[:, 0]
    hot = draws(Sampling(temperature=5.0, seed=0))[:, 0]
    assert (cold == 0).mean() > 0.9 and (hot == 0).mean() < 0.4 and len(set(hot)) == 4


def test_frequencies_follow_probabilities():
    chosen = draws(Sampling(temperature=1.0, seed=1), n=4000)[:, 0]
    assert np.allclose(np.bincount(chosen, minlength=4) / 4000, [0.5, 0.3, 0.15, 0.05], atol=0.03)


def test_seed_reproduces():
    a, b = draws(Sampling(temperature=1.0, seed=7)), draws(Sampling(temperature=1.0, seed=7))
    assert (a == b).all() and not (a == draws(Sampling(temperature=1.0, seed=8))).all()


@pytest.mark.parametrize("bad", [dict(temperature=-1), dict(top_k=-1), dict(top_p=0.0), dict(top_p=1.5)])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError, match="allowed"):
        Sampling(**bad)
