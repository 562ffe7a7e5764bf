"""The training step's speed choices (train/speed.py): the fused AdamW kernel, when
train.compile auto compiles, and the eager fallback where compiling fails."""

from __future__ import annotations

import json

import pytest
import torch

from light_llm.schemas.train import AUTO_COMPILE_SECONDS, TrainConfig
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


def test_auto_compiles_when_the_timed_steps_left_take_long(monkeypatch):
    """auto times TIMED_FORWARDS forwards after the first and compiles when the forwards
    left, as whole steps, would take AUTO_COMPILE_SECONDS; no-grad forwards stay eager."""
    assert TrainConfig().compile == "auto"
    compiled = []
    monkeypatch.setattr(speed.torch, "compile", lambda module: compiled.append(module) or module)
    model, inputs, notes = torch.nn.Linear(3, 2), torch.randn(4, 3), []
    clock = iter(range(10**6))
    monkeypatch.setattr(speed.time, "perf_counter", lambda: next(clock))  # every forward: 1 s
    short = speed.training_forward(model, "auto", AUTO_COMPILE_SECONDS // 3 - 1 + speed.TIMED_FORWARDS + 1, notes.append)
    long = speed.training_forward(model, "auto", AUTO_COMPILE_SECONDS // 3 + speed.TIMED_FORWARDS + 1, notes.append)
    for forward in (short, long):
        with torch.no_grad():
            forward(inputs)  # validation: neither timed nor counted
        for _ in range(speed.TIMED_FORWARDS + 1):
            assert torch.equal(forward(inputs), model(inputs))
    assert short.compiled is None and long.compiled is model and compiled == [model]
    assert notes == [f"compiling the training forward: the {AUTO_COMPILE_SECONDS // 3} forwards and backwards "
                     f"left would take about {AUTO_COMPILE_SECONDS // 60} min eagerly"]
    assert speed.training_forward(model, False, 10**6, notes.append) is model


def test_auto_trains_eagerly_where_compiling_fails(monkeypatch):
    def no_compiler(graph, example_inputs):
        raise RuntimeError("no C++ compiler\nmore")

    real_compile = torch.compile
    monkeypatch.setattr(speed.torch, "compile", lambda module: real_compile(module, backend=no_compiler))
    notes: list[str] = []
    model = torch.nn.Linear(3, 2)
    forward = speed.AutoCompiled(model, 10, notes.append)
    forward._decide(eager_seconds_left=AUTO_COMPILE_SECONDS)
    inputs = torch.randn(4, 3)
    assert torch.equal(forward(inputs), model(inputs)) and torch.equal(forward(inputs), model(inputs))
    assert len(notes) == 2 and "no C++ compiler" in notes[1] and "training eagerly" in notes[1]
    with pytest.raises(Exception, match=r"no C\+\+ compiler"):  # an explicit true does not hide it
        speed.training_forward(model, True, 1, notes.append)(inputs)


def _not_a_module(module):
    """What compiling returns, as far as the training loops may assume: a callable without
    .parameters() (AutoCompiled and compiled functions are no modules)."""
    return lambda *inputs: module(*inputs)


def _benchmark():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "train_vs_hf.py"
    spec = importlib.util.spec_from_file_location("train_vs_hf", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_loop_trains_through_an_auto_compiled_forward(monkeypatch):
    """benchmarks/train_vs_hf.py once clipped `forward.parameters()`, which the Trainer's
    AutoCompiled forward does not have: the loop must clip and step the module."""
    monkeypatch.setattr(speed, "AUTO_COMPILE_SECONDS", 0)
    monkeypatch.setattr(speed.torch, "compile", _not_a_module)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(11, 8), torch.nn.Linear(8, 11))
    forward = speed.training_forward(model, "auto", 100, print)
    before = [p.detach().clone() for p in model.parameters()]
    batches = [torch.randint(0, 11, (2, 6)) for _ in range(speed.TIMED_FORWARDS + 3)]
    _benchmark().train_steps(model, forward, build_optimizer(model, TrainConfig()), batches, "fp32")
    assert forward.compiled is not None  # the last steps ran through the "compiled" forward
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_the_trainer_clips_and_steps_once_auto_has_compiled(tmp_path, monkeypatch):
    from train_helpers import metric_records, tiny_spec

    from light_llm.train.trainer import Trainer

    monkeypatch.setattr(speed, "AUTO_COMPILE_SECONDS", 0)
    monkeypatch.setattr(speed.torch, "compile", _not_a_module)
    steps = speed.TIMED_FORWARDS + 4
    Trainer(tiny_spec(steps=steps, grad_clip=0.5), tmp_path / "run").train()
    norms = metric_records(tmp_path / "run", "grad_norm")
    assert len(norms) == steps and all(norm > 0 for norm in norms)
    state = json.loads(next((tmp_path / "run/checkpoints").glob("step_*/trainer_state.json")).read_text())
    assert "matmul_libraries" in state  # --resume multiplies with the same libraries
