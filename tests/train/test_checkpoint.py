"""Checkpoints are written atomically: an interrupted write never hides or replaces the
previous good checkpoint; only the newest K are kept; a checkpoint is a model folder."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import torch
from train_helpers import tiny_spec

from light_llm.model_folder import load_model_folder
from light_llm.train import checkpoint as checkpoint_module
from light_llm.staging import MARKER
from light_llm.train.checkpoint import (
    checkpoint_steps, latest_checkpoint, read_checkpoint, resumable_checkpoint, write_checkpoint,
)
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


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_write_leaves_a_hidden_folder_that_is_ignored_then_removed(trained_run) -> None:
    previous = read_checkpoint(latest_checkpoint(trained_run))
    step = previous.step + 8
    leftover = trained_run / "checkpoints" / f".step_{step:06d}.staging-abc"
    leftover.mkdir()
    (leftover / "model.safetensors").write_bytes(b"partial")
    (leftover / MARKER).write_text(f"{socket.gethostname()} {_dead_pid()}\n")
    foreign = trained_run / "checkpoints" / ".notes.staging-mine"  # the name, but no marker
    foreign.mkdir()
    (foreign / "keep.txt").write_text("not light_llm's")
    assert latest_checkpoint(trained_run) == previous.path
    _write_again(trained_run, step, previous)
    assert not leftover.exists() and (foreign / "keep.txt").is_file()
    resumed = read_checkpoint(latest_checkpoint(trained_run))
    assert resumed.step == step and resumed.state["sampler"] == previous.state["sampler"]
    assert not (latest_checkpoint(trained_run) / MARKER).exists()
    for name, tensor in previous.optimizer["state"].items():
        assert all(torch.equal(tensor[key], resumed.optimizer["state"][name][key]) for key in tensor)


def test_resume_falls_back_to_the_newest_intact_checkpoint(tmp_path) -> None:
    from rich.console import Console

    run = tmp_path / "run"
    Trainer(tiny_spec(steps=8, checkpoint_every=4, keep_checkpoints=2), run).train()
    newest = latest_checkpoint(run)
    (newest / "optimizer.safetensors").write_bytes(b"\x00damaged")
    console = Console(record=True, width=300)
    summary = Trainer(tiny_spec(steps=12, checkpoint_every=4, keep_checkpoints=2), run, resume=True,
                      console=console).train()
    assert summary.start_step == 4 and summary.steps == 12
    assert f"--resume skips {newest}: damaged checkpoint" in console.export_text()
    assert [step for step, _ in checkpoint_steps(run)] == [8, 12]  # step 8 written again
    assert read_checkpoint(latest_checkpoint(run)).step == 12
    assert (run / "checkpoints" / f"{newest.name}.damaged").is_dir()  # kept for a look


def test_every_checkpoint_damaged_is_one_clear_error(tmp_path) -> None:
    run = tmp_path / "run"
    Trainer(tiny_spec(steps=4, checkpoint_every=4), run).train()
    (latest_checkpoint(run) / "trainer_state.json").write_text("{")
    resumable, skipped = resumable_checkpoint(run)
    assert resumable is None and len(skipped) == 1 and "damaged checkpoint" in skipped[0]


def test_checkpoints_are_readable_by_everyone(trained_run) -> None:
    newest = latest_checkpoint(trained_run)
    assert newest.stat().st_mode & 0o777 == 0o755  # staged with mkdtemp, which makes 0700
    assert {item.stat().st_mode & 0o777 for item in newest.iterdir()} == {0o644}  # safetensors: 0600
