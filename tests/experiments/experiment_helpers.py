"""Tiny specs and helpers of the experiments tests: a run trains in seconds on 2 cores."""

from __future__ import annotations

import json
import sys
from pathlib import Path

TINY_SPEC = {
    "spec_version": 1,
    "model": {"name": "transformer", "d_model": 32, "num_layers": 1, "max_seq_len": 32, "attention": {"num_heads": 4}},
    "data": {"corpus": "stdlib", "max_corpus_bytes": 60_000},
    "train": {"steps": 4, "batch_size": 4, "warmup_steps": 1, "eval_every": 2, "eval_batches": 1, "checkpoint_every": 2},
}


def write_tiny_spec(folder: Path, **train) -> Path:
    spec = json.loads(json.dumps(TINY_SPEC))
    spec["train"].update(train)
    path = folder / "tiny.json"
    path.write_text(json.dumps(spec))
    return path


def metric_records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]


def loss_steps(run: Path) -> list[int]:
    return [record["step"] for record in metric_records(run) if "loss" in record]


def lightllm_command() -> list[str]:
    """The `lightllm` of this interpreter's environment."""
    return [str(Path(sys.executable).parent / "lightllm")]


def invoke(app, *args) -> "object":
    from typer.testing import CliRunner

    return CliRunner().invoke(app, [str(arg) for arg in args])
