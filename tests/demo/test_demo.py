"""`lightllm demo`, the README's main job, run as a real subprocess on the built-in
default spec and corpus (fewer steps), then again to check that it resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from light_llm.presets import default_spec_path

EXAMPLES = Path(__file__).parents[2] / "examples" / "specs"
STEPS = 20


def _demo(*args: str) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "lightllm"), "demo", *args]  # the console script
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("demo") / "run"
    return out, _demo("--out", str(out), "--steps", str(STEPS))


def test_demo_runs_the_whole_flow(demo_run) -> None:
    out, done = demo_run
    assert done.returncode == 0, done.stdout + done.stderr
    stages = ["1/4 compile", "2/4 train", "3/4 export to ONNX", "4/4 generate with onnxruntime"]
    positions = [done.stdout.index(stage) for stage in stages]
    assert positions == sorted(positions)
    assert "parity passed (fp32)" in done.stdout
    assert f"trained steps 0→{STEPS}" in done.stdout
    for written in ["spec.resolved.json", "model.safetensors", "tokenizer.json", "metrics.jsonl",
                    "exports/onnx/model.onnx", "exports/onnx/light_llm.json", "loss.png"]:
        assert (out / written).is_file(), written
    assert str(out / "exports" / "onnx") in done.stdout
    assert f"{out / 'loss.png'}  the loss plot" in done.stdout


def test_demo_shows_the_loss_falling(demo_run) -> None:
    out, _ = demo_run
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    losses = [record["loss"] for record in records if "loss" in record]
    assert len(losses) == STEPS
    assert losses[-1] < losses[0] - 1.0  # from ~ln(258) = 5.55 towards byte statistics


def test_demo_sample_continues_the_prompt(demo_run) -> None:
    _, done = demo_run
    sample = done.stdout.split("4/4 generate with onnxruntime")[1].split("written")[0]
    assert "def " in sample and len(sample.strip().splitlines()) >= 2


def test_demo_again_skips_training_and_reexports(demo_run) -> None:
    out, _ = demo_run
    again = _demo("--out", str(out), "--steps", str(STEPS))
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"already trained to step {STEPS}" in again.stdout
    assert "parity passed (fp32)" in again.stdout


def test_demo_with_a_bad_spec_is_one_clear_error(tmp_path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("model:\n  d_modle: 64\n")
    done = _demo(str(spec), "--out", str(tmp_path / "run"))
    assert done.returncode == 1
    assert "model.d_modle" in done.stderr and "d_model" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


def test_builtin_default_is_the_tiny_example() -> None:
    builtin = yaml.safe_load(default_spec_path().read_text())
    example = yaml.safe_load((EXAMPLES / "tiny.yaml").read_text())
    example.pop("$schema")
    assert builtin == example
