"""docs/training.md names every option of `lightllm train` and every key of the spec's
`train` section, and no option that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from light_llm.schemas.train import TrainConfig

DOC = Path(__file__).parents[2] / "docs" / "training.md"


def train_options() -> set[str]:
    from light_llm.cli import app as cli

    cli._register_commands()
    command = typer.main.get_command(cli.app).commands["train"]
    return {name for param in command.params for name in param.opts + param.secondary_opts if name.startswith("--")}


def test_every_train_option_is_in_the_table() -> None:
    doc = DOC.read_text(encoding="utf-8")
    table = doc.split("The command-line options override", 1)[1].split("\n\n", 2)[1]
    documented = set(re.findall(r"`(--[a-z-]+)", table)) | set(re.findall(r"/ (--[a-z-]+)`", table))
    assert documented == train_options() - {"--out", "--help"}


def test_every_train_key_is_named() -> None:
    doc = DOC.read_text(encoding="utf-8")
    for key in TrainConfig.model_fields:
        assert f"`train.{key}`" in doc or f"`{key}`" in doc, key


def test_torchrun_invocation_is_the_tested_one() -> None:
    doc = DOC.read_text(encoding="utf-8")
    tested = (Path(__file__).parents[1] / "train" / "test_distributed.py").read_text(encoding="utf-8")
    assert '"--standalone", "--nproc_per_node", "2", "--no-python"' in tested
    assert "torchrun --standalone --nproc_per_node 2 --no-python lightllm train" in doc
