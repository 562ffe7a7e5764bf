"""`lightllm train`: a run and its summary, and every bad input as one clear line with a
non-zero exit, never a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from train_helpers import tiny_spec_dict
from typer.testing import CliRunner


@pytest.fixture(scope="module")
def app():
    from light_llm.cli import app as cli

    if not cli.app.registered_commands:
        cli._register_commands()
    return cli.app


def _spec(folder: Path, data=None, model=None, **train) -> Path:
    spec = tiny_spec_dict(data, **train)
    spec["model"].update(model or {})
    path = folder / f"spec{len(list(folder.glob('spec*.json')))}.json"
    path.write_text(json.dumps(spec))
    return path


def _train(app, *args: str):
    return CliRunner().invoke(app, ["train", *map(str, args)])


def _one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_train_overrides_and_summary(app, tmp_path) -> None:
    result = _train(app, _spec(tmp_path), "--out", tmp_path / "run", "--steps", "3", "--seed", "5", "--eval-every", "3")
    assert result.exit_code == 0, result.output
    assert "trained steps 0→3" in result.output and "validation loss" in result.output
    resolved = json.loads((tmp_path / "run/spec.resolved.json").read_text())
    assert resolved["train"]["steps"] == 3 and resolved["train"]["seed"] == 5
    again = _train(app, _spec(tmp_path), "--out", tmp_path / "run", "--steps", "3")
    assert "already holds a run" in _one_line_error(again) and "--resume" in again.output


def test_empty_corpus(app, tmp_path) -> None:
    (tmp_path / "empty.txt").write_text("")
    line = _one_line_error(_train(app, _spec(tmp_path, {"corpus": str(tmp_path / "empty.txt")}), "--out", tmp_path / "run"))
    assert "empty.txt" in line and "corpus is empty" in line


def test_a_failed_run_leaves_no_empty_out_folder(app, tmp_path) -> None:
    (tmp_path / "empty.txt").write_text("")
    spec = _spec(tmp_path, {"corpus": str(tmp_path / "empty.txt")})
    before = sorted(path.name for path in tmp_path.iterdir())
    line = _one_line_error(_train(app, spec, "--out", tmp_path / "new" / "run"))
    assert "corpus is empty" in line
    assert sorted(path.name for path in tmp_path.iterdir()) == before  # neither new/ nor new/run


def test_missing_corpus_path(app, tmp_path) -> None:
    line = _one_line_error(_train(app, _spec(tmp_path, {"corpus": str(tmp_path / "nowhere")}), "--out", tmp_path / "run"))
    assert "nowhere: no such file or folder" in line


def test_token_cache_of_another_tokenizer(app, tmp_path, text_corpus) -> None:
    byte_spec = _spec(tmp_path, {"corpus": str(text_corpus)}, steps=2)
    assert _train(app, byte_spec, "--out", tmp_path / "run").exit_code == 0
    shutil.rmtree(tmp_path / "run/checkpoints")  # start over in the same folder
    bpe_spec = _spec(tmp_path, {"corpus": str(text_corpus), "tokenizer": "bpe"}, model={"vocab_size": 300}, steps=2)
    line = _one_line_error(_train(app, bpe_spec, "--out", tmp_path / "run"))
    assert "tokens.bin was made by another tokenizer" in line and "delete" in line


def test_vocabulary_mismatch(app, tmp_path) -> None:
    line = _one_line_error(_train(app, _spec(tmp_path, model={"vocab_size": 300}), "--out", tmp_path / "run"))
    assert "vocabulary mismatch" in line and "258 tokens" in line and "model.vocab_size=300" in line


def test_max_seq_len_longer_than_the_corpus(app, tmp_path) -> None:
    (tmp_path / "short.txt").write_text("a short text of a few words, far shorter than one window\n")
    spec = _spec(tmp_path, {"corpus": str(tmp_path / "short.txt")}, model={"max_seq_len": 128})
    line = _one_line_error(_train(app, spec, "--out", tmp_path / "run"))
    assert "too short for seq_len=128" in line


def test_bad_override_names_the_option(app, tmp_path) -> None:
    result = _train(app, _spec(tmp_path), "--out", tmp_path / "run", "--precision", "fp8")
    assert result.exit_code == 1 and "train.precision" in result.output and "Traceback" not in result.output
