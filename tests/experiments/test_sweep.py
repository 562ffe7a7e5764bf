"""`lightllm sweep`: a 2×2 grid in a real process, killed with SIGKILL in its second run and
run again: the finished run is skipped, the half-done run resumes from its checkpoint,
and every run's metrics hold each step once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from experiment_helpers import invoke, lightllm_command, loss_steps, metric_records, write_tiny_spec

from light_llm.train.checkpoint import checkpoint_steps

STEPS = 8
NAMES = [
    "variant-mha_encoding-rope",
    "variant-mha_encoding-alibi",
    "variant-complex_encoding-rope",
    "variant-complex_encoding-alibi",
]


def _sweep(spec: Path, out: Path) -> list[str]:
    return [
        *lightllm_command(), "sweep", str(spec),
        "--grid", "model.attention.variant=mha,complex",
        "--grid", "model.positional.encoding=rope,alibi",
        "--set", f"train.steps={STEPS}", "--set", "train.eval_every=4",
        "--out", str(out),
    ]


def _wait_for(condition, process: subprocess.Popen, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the sweep ended before it could be killed:\n{process.stdout.read()}"
        assert time.monotonic() < deadline, "timed out waiting for the sweep"
        time.sleep(0.01)


@pytest.mark.slow
def test_killed_sweep_continues_without_training_anything_twice(cli_app, tmp_path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    spec, out = write_tiny_spec(tmp_path, checkpoint_every=2), tmp_path / "sweep"
    environment = dict(os.environ, COLUMNS="200")
    process = subprocess.Popen(_sweep(spec, out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)
    _wait_for(lambda: bool(checkpoint_steps(out / NAMES[1])), process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    first, second = out / NAMES[0], out / NAMES[1]
    assert (first / "model.safetensors").is_file() and not (second / "model.safetensors").exists()
    assert not (out / NAMES[2]).exists()
    finished = {path.name: path.read_bytes() for path in (first / "metrics.jsonl", first / "model.safetensors")}
    resume_step = checkpoint_steps(second)[-1][0]

    again = subprocess.run(_sweep(spec, out), capture_output=True, text=True, env=environment, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{NAMES[0]}: finished at step {STEPS}, skipped" in again.stdout
    assert f"{NAMES[1]}: resuming at step {resume_step}" in again.stdout
    assert f"{NAMES[2]}: training" in again.stdout and f"{NAMES[3]}: training" in again.stdout
    assert {path.name: path.read_bytes() for path in (first / "metrics.jsonl", first / "model.safetensors")} == finished
    for name in NAMES:
        run = out / name
        assert loss_steps(run) == list(range(1, STEPS + 1)), name
        assert [record["step"] for record in metric_records(run) if "val_loss" in record] == [4, 8], name
        assert name in again.stdout.split("runs compared")[1], "missing from the compare table"
    events = EventAccumulator(str(second / "tensorboard"))
    events.Reload()
    assert [event.step for event in events.Scalars("train/loss")] == list(range(1, STEPS + 1))
    assert (out / "validation_loss.png").is_file() and (out / "report.md").is_file()

    # each run folder is a normal run: `lightllm train --resume` continues it
    more = invoke(cli_app, "train", second / "spec.resolved.json", "--out", second, "--resume", "--set", f"train.steps={STEPS + 2}")
    assert more.exit_code == 0, more.output
    assert loss_steps(second) == list(range(1, STEPS + 3))


def test_invalid_combinations_are_reported_per_run(cli_app, tmp_path) -> None:
    spec, out = write_tiny_spec(tmp_path), tmp_path / "sweep"
    result = invoke(cli_app, "sweep", spec, "--grid", "model.positional.encoding=bogus,rop", "--out", out)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "encoding-bogus: invalid spec" in result.output and "encoding-rop: invalid spec" in result.output
    assert "model.positional.encoding: got 'bogus'" in result.output
    assert "did you mean 'rope'?" in result.output
    assert not any(out.glob("*/metrics.jsonl"))


@pytest.mark.parametrize(
    ("grid", "message"),
    [("model.attention.variant", "expected KEY=V1,V2"), ("model.attention.variant=mha,", "expected KEY=V1,V2"),
     ("model.attention..variant=mha", "not a dotted key path")],
)
def test_malformed_grid(cli_app, tmp_path, grid, message) -> None:
    result = invoke(cli_app, "sweep", write_tiny_spec(tmp_path), "--grid", grid, "--out", tmp_path / "sweep")
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_a_finished_run_of_another_model_is_not_skipped(cli_app, tmp_path) -> None:
    spec, out = write_tiny_spec(tmp_path, steps=2, eval_every=2), tmp_path / "sweep"
    first = invoke(cli_app, "sweep", spec, "--grid", "model.attention.variant=mha", "--out", out)
    assert first.exit_code == 0, first.output
    again = invoke(cli_app, "sweep", spec, "--grid", "model.attention.variant=mha", "--set", "model.d_model=64", "--out", out)
    assert again.exit_code == 1 and "Traceback" not in again.output
    assert "was trained with another model section" in again.output
    same = invoke(cli_app, "sweep", spec, "--grid", "model.attention.variant=mha", "--out", out)
    assert same.exit_code == 0 and "variant-mha: finished at step 2, skipped" in same.output
