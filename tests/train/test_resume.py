"""Stopping and resuming in real processes: after SIGKILL or Ctrl-C (SIGINT), --resume
ends with the same weights as a run that was never interrupted."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from train_helpers import final_weights, lightllm_command, metric_records, tiny_spec, write_spec

from light_llm.train.checkpoint import checkpoint_steps
from light_llm.train.trainer import Trainer

STEPS = 60
TRAIN = {"steps": STEPS, "checkpoint_every": 5, "eval_every": 30}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("uninterrupted") / "run"
    Trainer(tiny_spec(**TRAIN), run).train()
    return run


def _start(spec: Path, run: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*lightllm_command(), "train", str(spec), "--out", str(run), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for(condition, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the run ended before it could be interrupted:\n{process.stdout.read()}"
        assert time.monotonic() < deadline, "timed out waiting for the run"
        time.sleep(0.01)


def _assert_same_weights(run: Path, reference: Path) -> None:
    resumed, expected = final_weights(run), final_weights(reference)
    assert resumed.keys() == expected.keys()
    for name in expected:
        assert torch.equal(resumed[name], expected[name]), name


def test_resume_after_sigkill_equals_an_uninterrupted_run(tmp_path, uninterrupted) -> None:
    spec, run = write_spec(tmp_path, **TRAIN), tmp_path / "run"
    process = _start(spec, run)
    _wait_for(lambda: len(checkpoint_steps(run)) >= 2, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (run / "model.safetensors").exists(), "killed after the run had finished"
    killed_at = checkpoint_steps(run)[-1][0]
    assert 0 < killed_at < STEPS
    resumed = subprocess.run([*lightllm_command(), "train", str(spec), "--out", str(run), "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resuming at step {killed_at}" in resumed.stdout
    _assert_same_weights(run, uninterrupted)
    assert metric_records(run, "loss") == metric_records(uninterrupted, "loss")  # no repeated steps


def test_ctrl_c_saves_a_checkpoint_and_resume_equals_an_uninterrupted_run(tmp_path, uninterrupted) -> None:
    spec, run = write_spec(tmp_path, **TRAIN), tmp_path / "run"
    process = _start(spec, run)
    _wait_for(lambda: (run / "metrics.jsonl").is_file() and len(metric_records(run, "loss")) >= 7, process)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output
    assert "interrupted: checkpoint saved at step" in output and "Traceback" not in output
    stopped_at = len(metric_records(run, "loss"))
    assert checkpoint_steps(run)[-1][0] == stopped_at < STEPS
    resumed = subprocess.run([*lightllm_command(), "train", str(spec), "--out", str(run), "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    _assert_same_weights(run, uninterrupted)
