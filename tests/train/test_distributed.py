"""torchrun with two processes (gloo on CPU): the same global batch as one process, so
the same loss trajectory, with DDP and with FSDP2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from train_helpers import final_weights, lightllm_command, metric_records, tiny_spec, write_spec

from light_llm.train.trainer import Trainer

TRAIN = {"steps": 8, "batch_size": 8, "learning_rate": 1e-2, "warmup_steps": 2, "grad_accum_steps": 2, "eval_every": 4, "checkpoint_every": 4}


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("single") / "run"
    Trainer(tiny_spec(**TRAIN), run).train()
    return run


def _torchrun(tmp_path: Path, **train) -> Path:
    spec, run = write_spec(tmp_path, **{**TRAIN, **train}), tmp_path / "run"
    torchrun = str(Path(sys.executable).parent / "torchrun")
    command = [torchrun, "--standalone", "--nproc_per_node", "2", "--no-python", *lightllm_command(), "train", str(spec), "--out", str(run)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 processes" in result.stdout and result.stdout.count("trained steps") == 1  # rank 0 alone reports
    return run


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_processes_follow_one_process(tmp_path, one_process, strategy) -> None:
    run = _torchrun(tmp_path, distributed=strategy)
    single, double = metric_records(one_process, "loss"), metric_records(run, "loss")
    assert len(double) == len(single) == TRAIN["steps"]
    assert double == pytest.approx(single, abs=2e-4)
    assert metric_records(run, "val_loss") == pytest.approx(metric_records(one_process, "val_loss"), abs=2e-4)
    assert single[-1] < single[0] - 0.2
    expected = final_weights(one_process)
    for name, tensor in final_weights(run).items():
        assert torch.allclose(tensor, expected[name], atol=1e-4), name
