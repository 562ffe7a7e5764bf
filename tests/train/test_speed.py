"""The training step's speed choices (train/speed.py): the fused AdamW kernel, when
train.compile auto compiles, and the eager fallback where compiling fails."""

from __future__ import annotations

import pytest
import torch

from light_llm.schemas.train import AUTO_COMPILE_STEPS, TrainConfig
from light_llm.train import speed
from light_llm.train.optim import build_optimizer


def test_adamw_is_fused_on_cpu_and_steps_like_the_loop_kernel():
    torch.manual_seed(0)
    models = [torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.LayerNorm(8)) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    fused = build_optimizer(models[0], TrainConfig())
    assert fused.defaults["fused"] is True
    loop = torch.optim.AdamW(
        [{"params": [p for p in models[1].parameters() if p.ndim >= 2], "weight_decay": 0.1},
         {"params": [p for p in models[1].parameters() if p.ndim < 2], "weight_decay": 0.0}],
        lr=1e-3, betas=(0.9, 0.95), eps=1e-8, foreach=False)
    batch = torch.randn(4, 8)
    for model, optimizer in zip(models, (fused, loop)):
        for _ in range(3):
            model(batch).square().mean().backward()
            optimizer.step()
            optimizer.zero_grad()
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_parameters_without_a_fused_kernel_take_foreach():
    assert speed.adamw_kernel([torch.zeros(2, dtype=torch.float64)]) == {"foreach": True}
    assert speed.adamw_kernel([torch.zeros(2)]) == {"fused": True}


def test_auto_compiles_long_runs_only():
    assert TrainConfig().compile == "auto"
    assert not speed.compiles("auto", AUTO_COMPILE_STEPS - 1) and speed.compiles("auto", AUTO_COMPILE_STEPS)
    assert speed.compiles(True, 1) and not speed.compiles(False, 10**6)
    model = torch.nn.Linear(2, 2)
    assert speed.training_forward(model, "auto", 10, print) is model


def test_auto_trains_eagerly_where_compiling_fails(monkeypatch):
    def no_compiler(graph, example_inputs):
        raise RuntimeError("no C++ compiler\nmore")

    real_compile = torch.compile
    monkeypatch.setattr(speed.torch, "compile", lambda module: real_compile(module, backend=no_compiler))
    notes: list[str] = []
    model = torch.nn.Linear(3, 2)
    forward = speed.training_forward(model, "auto", AUTO_COMPILE_STEPS, notes.append)
    inputs = torch.randn(4, 3)
    assert torch.equal(forward(inputs), model(inputs)) and torch.equal(forward(inputs), model(inputs))
    assert len(notes) == 1 and "no C++ compiler" in notes[0] and "training eagerly" in notes[0]
    with pytest.raises(Exception, match=r"no C\+\+ compiler"):  # an explicit true does not hide it
        speed.training_forward(model, True, 1, notes.append)(inputs)
