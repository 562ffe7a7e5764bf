"""The training step's matrix products (models/transformer/training_matmul.py): each
library gives F.linear's outputs and gradients, eager and compiled; the library is chosen
per product shape by timing and oneDNN only kept when clearly faster; decode, no-grad,
bf16 autocast and exports never take this path."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from light_llm.models.transformer import training_matmul
from light_llm.models.transformer.linear import Linear
from light_llm.models.transformer.training_matmul import ATEN, ONEDNN, clear_library_choices, library_choices
from tiny_models import tiny_model, tokens


@pytest.fixture(autouse=True)
def fresh_choices():
    clear_library_choices()
    yield
    clear_library_choices()


def counted_libraries(monkeypatch, library: str | None = None) -> list[str]:
    """Records each product's library (forcing `library` when given)."""
    calls: list[str] = []
    choose = training_matmul._library

    def recorded(a, b):
        chosen = library or choose(a, b)
        calls.append(chosen)
        return chosen

    monkeypatch.setattr(training_matmul, "_library", recorded)
    return calls


def linear_and_grads(forward, layer, x):
    x = x.detach().requires_grad_()
    layer.zero_grad()
    out = forward(x)
    (out * torch.linspace(-1, 1, out.shape[-1])).sum().backward()
    return out.detach(), x.grad, layer.weight.grad.clone(), layer.bias.grad.clone()


@pytest.mark.parametrize("library", [ATEN, ONEDNN])
@pytest.mark.parametrize("compiled", [False, True])
def test_every_product_of_a_training_linear_equals_f_linear(monkeypatch, library, compiled):
    torch.manual_seed(0)
    layer = Linear(48, 80)
    x = torch.randn(3, 20, 48)
    calls = counted_libraries(monkeypatch, library)
    torch._dynamo.reset()  # Linear.forward compiled by earlier tests must not use up the recompile limit
    forward = torch.compile(layer, fullgraph=True) if compiled else layer
    ours = linear_and_grads(forward, layer, x)
    assert calls == [library] * 3  # forward, input gradient, weight gradient
    reference = linear_and_grads(lambda inputs: F.linear(inputs, layer.weight, layer.bias), layer, x)
    for got, expected in zip(ours, reference):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_a_model_trains_alike_through_either_library(monkeypatch):
    """One optimizer step of a tiny model: equal losses and weights up to fp32 rounding."""
    weights = []
    for library in (ATEN, ONEDNN):
        counted_libraries(monkeypatch, library)
        model = tiny_model()
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
        batch = tokens(2, 13)
        loss = F.cross_entropy(model(batch[:, :-1]).flatten(0, 1), batch[:, 1:].flatten())
        loss.backward()
        optimizer.step()
        weights.append([p.detach().clone() for p in model.parameters()])
    for a, b in zip(*weights):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_onednn_is_kept_only_when_clearly_faster(monkeypatch):
    timings = iter([[1.0, 0.97], [1.0, 0.5]])  # aten, oneDNN seconds per call
    monkeypatch.setattr(training_matmul, "median_seconds", lambda *candidates: next(timings))
    a, b = torch.randn(256, 128), torch.randn(128, 128)
    assert training_matmul._library(a, b) == ATEN
    assert training_matmul._library(a, b) == ATEN  # measured once per shape
    assert training_matmul._library(a, b.t().contiguous().t()) == ONEDNN  # another layout: measured anew
    assert len(library_choices()) == 2 and library_choices()[1].endswith("-> onednn")
    assert training_matmul._library(a[:8], b) == ATEN and len(library_choices()) == 2  # too small to time


def test_a_library_that_cannot_run_keeps_aten(monkeypatch):
    def refused(*candidates):
        raise RuntimeError("oneDNN refused the layout")

    monkeypatch.setattr(training_matmul, "median_seconds", refused)
    assert training_matmul._library(torch.randn(256, 128), torch.randn(128, 128)) == ATEN


def test_decode_autocast_and_exports_keep_f_linear(monkeypatch):
    calls = counted_libraries(monkeypatch)
    layer = Linear(16, 8)
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        layer(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert layer(x).dtype == torch.bfloat16
    torch.jit.trace(layer, x)
    assert "matmul_nt" not in str(torch.export.export(layer, (x,)).graph)
    frozen = Linear(16, 8).requires_grad_(False)
    frozen(x)
    assert calls == []


def test_a_checkpoints_choices_are_reused(monkeypatch):
    monkeypatch.setattr(training_matmul, "median_seconds", lambda *candidates: [1.0, 0.5])
    a, b = torch.randn(256, 128), torch.randn(128, 128)
    assert training_matmul._library(a, b) == ONEDNN
    state = json.loads(json.dumps(training_matmul.choices_state()))
    clear_library_choices()
    training_matmul.restore_choices(state)
    monkeypatch.setattr(training_matmul, "median_seconds", lambda *candidates: [0.5, 1.0])
    assert training_matmul._library(a, b) == ONEDNN and len(library_choices()) == 1


def test_a_choice_line_shows_each_librarys_rate():
    choice = training_matmul.LibraryChoice(ONEDNN, aten_us=2000.0, onednn_us=1000.0)
    line = choice.describe((512, 512, 1000, True, True, 2))  # 2·512·512·1000 flop = 524 MFLOP
    assert line == ("matmul 512x512x1000 (aᵀ·b) threads=2: aten 2000 us (262 GFLOP/s), "
                    "onednn 1000 us (524 GFLOP/s) -> onednn")
