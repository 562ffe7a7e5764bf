"""Tiny specs for the training tests: each run takes seconds on 2 cores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.torch import load_file

from light_llm.schemas.load import load_spec
from light_llm.schemas.spec import Spec

TINY_MODEL = {"name": "transformer", "d_model": 32, "num_layers": 2, "max_seq_len": 32, "attention": {"num_heads": 4}}


def tiny_spec_dict(data: dict[str, Any] | None = None, **train: Any) -> dict[str, Any]:
    train_section = {"steps": 12, "batch_size": 4, "warmup_steps": 2, "eval_every": 6, "eval_batches": 2, "checkpoint_every": 6}
    train_section.update(train)
    data_section = {"corpus": "stdlib", "max_corpus_bytes": 120_000}
    data_section.update(data or {})
    return {"spec_version": 1, "model": dict(TINY_MODEL), "data": data_section, "train": train_section}


def tiny_spec(data: dict[str, Any] | None = None, **train: Any) -> Spec:
    return load_spec(tiny_spec_dict(data, **train))


def write_spec(folder: Path, data: dict[str, Any] | None = None, **train: Any) -> Path:
    path = folder / "spec.json"
    path.write_text(json.dumps(tiny_spec_dict(data, **train)))
    return path


def final_weights(run: Path) -> dict:
    return load_file(run / "model.safetensors")


def metric_records(run: Path, key: str) -> list[float]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line)[key] for line in lines if key in json.loads(line)]


def lightllm_command() -> list[str]:
    """The installed `lightllm` of this interpreter's environment."""
    import sys

    return [str(Path(sys.executable).parent / "lightllm")]
