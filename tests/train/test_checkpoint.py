"""Checkpoints are written atomically: an interrupted write never hides or replaces the
previous good checkpoint; only the newest K are kept; a checkpoint is a model folder."""

from __future__ import annotations

import pytest
import torch
from train_helpers import tiny_spec

from light_llm.model_folder import load_model_folder
from light_llm.train import checkpoint as checkpoint_module
from light_llm.train.checkpoint import checkpoint_steps, latest_checkpoint, read_checkpoint, write_checkpoint
from light_llm.train.trainer import Trainer


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    Trainer(tiny_spec(steps=12, checkpoint_every=4, keep_checkpoints=2), run).train()
    return run


def _write_again(run, step, checkpoint):
    write_checkpoint(
        run,
        step,
        model_state=checkpoint.model,
        optimizer_state=checkpoint.optimizer,
        trainer_state=checkpoint.state,
        spec_json=(checkpoint.path / "spec.resolved.json").read_text(),
        tokenizer_json=(checkpoint.path / "tokenizer.json").read_text(),
        keep=5,
    )


def test_only_the_newest_k_are_kept_and_each_is_a_model_folder(trained_run) -> None:
    assert [step for step, _ in checkpoint_steps(trained_run)] == [8, 12]
    final = load_model_folder(trained_run).build()
    last = load_model_folder(latest_checkpoint(trained_run)).build()
    assert all(torch.equal(a, b) for a, b in zip(final.state_dict().values(), last.state_dict().values()))


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, OSError])
def test_a_write_interrupted_midway_leaves_the_previous_checkpoint(trained_run, monkeypatch, interruption) -> None:
    previous = read_checkpoint(latest_checkpoint(trained_run))
    names_before = sorted(path.name for path in (trained_run / "checkpoints").iterdir())
    written = []
    real_save = checkpoint_module.save_file

    def save_then_fail(tensors, path, metadata=None):
        real_save(tensors, path, metadata=metadata)
        written.append(path)
        if len(written) == 2:  # weights and optimizer are on disk, the rest is not
            raise interruption("interrupted while writing")

    monkeypatch.setattr(checkpoint_module, "save_file", save_then_fail)
    with pytest.raises(interruption):
        _write_again(trained_run, previous.step + 4, previous)
    assert len(written) == 2
    assert latest_checkpoint(trained_run) == previous.path
    assert sorted(path.name for path in (trained_run / "checkpoints").iterdir()) == names_before
    assert read_checkpoint(latest_checkpoint(trained_run)).step == previous.step


def test_a_killed_write_leaves_a_hidden_folder_that_is_ignored_then_removed(trained_run) -> None:
    previous = read_checkpoint(latest_checkpoint(trained_run))
    step = previous.step + 8
    leftover = trained_run / "checkpoints" / f".writing-step_{step:06d}-abc"
    leftover.mkdir()
    (leftover / "model.safetensors").write_bytes(b"partial")
    assert latest_checkpoint(trained_run) == previous.path
    _write_again(trained_run, step, previous)
    assert not leftover.exists()
    resumed = read_checkpoint(latest_checkpoint(trained_run))
    assert resumed.step == step and resumed.state["sampler"] == previous.state["sampler"]
    for name, tensor in previous.optimizer["state"].items():
        assert all(torch.equal(tensor[key], resumed.optimizer["state"][name][key]) for key in tensor)


def test_checkpoints_are_readable_by_everyone(trained_run) -> None:
    newest = latest_checkpoint(trained_run)
    assert newest.stat().st_mode & 0o777 == 0o755  # staged with mkdtemp, which makes 0700
    assert {item.stat().st_mode & 0o777 for item in newest.iterdir()} == {0o644}  # safetensors: 0600
