"""benchmarks/train_step_parts.py splits a step's matrix products into forward, input
gradient and weight gradient: the split must hold for light_llm's custom op and for
torch's own Linear, eager and compiled (each part then counts one product per layer)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from light_llm.models.transformer.linear import Linear
from light_llm.models.transformer.training_matmul import clear_library_choices


@pytest.fixture
def parts(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    clear_library_choices()
    yield importlib.import_module("train_step_parts")
    clear_library_choices()


@pytest.mark.parametrize("layer_class", [Linear, torch.nn.Linear])
@pytest.mark.parametrize("compiled", [False, True])
def test_each_product_is_timed_once_in_its_part(parts, layer_class, compiled):
    torch.manual_seed(0)
    layers = torch.nn.Sequential(layer_class(16, 24, bias=False), layer_class(24, 8, bias=False))
    x = torch.randn(2, 5, 16, requires_grad=True)  # its gradient: the first layer's input gradient too
    torch._dynamo.reset()  # Linear.forward compiled by earlier tests must not use up the recompile limit
    forward = parts.InForward(torch.compile(layers) if compiled else layers)
    forward(x).sum().backward()  # compiles outside the timer
    timer = parts.ProductTimer(forward)
    with timer:
        out = forward(x)
        F.mse_loss(out, torch.zeros_like(out)).backward()
    macs = 10 * 16 * 24 + 10 * 24 * 8
    assert {part: timer.flops[part] for part in parts.PRODUCT_PARTS} == dict.fromkeys(parts.PRODUCT_PARTS, 2 * macs)
    assert all(timer.seconds[part] > 0 for part in parts.PRODUCT_PARTS)


def test_parts_are_medians_and_the_step_keeps_what_no_part_explains(parts):
    rounds = [{"step": 10.0, "attention": 3.0}, {"step": 14.0, "attention": 5.0}, {"step": 12.0, "attention": 1.0}]
    assert parts.median_parts(rounds) == {"step": 12.0, "attention": 3.0, "unattributed": 9.0}
