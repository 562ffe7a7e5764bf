"""Windowed perplexity (light_llm/evaluate/): the arithmetic, a model folder and its ONNX
export agreeing, the export evaluated by `lightllm eval` in a process where torch cannot
be imported, the transformers figure beside an imported model, and one-line errors."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from serve_helpers import NO_TORCH

from light_llm.cli.app import _register_commands, app
from light_llm.evaluate.errors import EvalError
from light_llm.evaluate.perplexity import evaluate_perplexity
from light_llm.evaluate.scores import score, window_scores
from light_llm.evaluate.text import BUILTIN_NAME, builtin_text
from light_llm.evaluate.windows import split_windows, window_length



def test_uniform_logits_give_the_vocabulary_size_and_scores_follow_log_softmax():
    windows = split_windows(np.arange(40) % 7, count=3, length=10)
    assert windows.shape == (3, 10) and windows[1, 0] == 10 % 7  # consecutive, stride = length
    uniform = score(lambda tokens: np.zeros((1, tokens.shape[1], 7), np.float32), windows)
    assert uniform.tokens == 27 and uniform.perplexity == pytest.approx(7.0)
    logits = np.random.default_rng(0).normal(size=(5, 11)).astype(np.float32)
    tokens = np.array([3, 1, 4, 1, 5])
    nll, top1 = window_scores(logits, tokens)
    expected = [-(logits[i, tokens[i + 1]] - math.log(np.exp(logits[i].astype(np.float64)).sum())) for i in range(4)]
    assert nll == pytest.approx(expected, abs=1e-5) and list(top1) == list(logits[:4].argmax(-1))


def test_windows_are_limited_by_the_text_and_the_model():
    assert window_length(None, 48) == 48 and window_length(300, 2048) == 300
    assert split_windows(np.arange(25), count=4, length=10).shape == (2, 10)  # only whole windows
    with pytest.raises(EvalError, match="the text has 9 tokens, fewer than one window of 10"):
        split_windows(np.arange(9), count=4, length=10)
    with pytest.raises(EvalError, match="at least 2 tokens"):
        window_length(1, 48)


def test_the_builtin_text_is_real_english_prose():
    text = builtin_text()
    assert len(text) > 40_000 and text.startswith("Objects, values and types") and " the " in text
    assert BUILTIN_NAME.startswith("built-in text (pydoc_data.topics: objects")


def test_a_model_folder_and_its_export_agree(llama_export):
    run, out = llama_export
    eager = evaluate_perplexity(run, windows=3)
    exported = evaluate_perplexity(out, windows=3)
    assert (eager.windows, eager.window_length) == (exported.windows, exported.window_length) == (3, 48)
    (ours,), (theirs,) = eager.results, exported.results
    assert ours.backend == "light_llm eager fp32" and theirs.backend == "onnx fp32"
    assert ours.tokens == theirs.tokens == 3 * 47
    assert theirs.perplexity == pytest.approx(ours.perplexity, rel=1e-4)


def test_lightllm_eval_reads_an_export_where_torch_cannot_be_imported(llama_export, tmp_path):
    run, out = llama_export
    text = tmp_path / "text.txt"
    text.write_text("The quick brown fox jumps over the lazy dog. " * 20)
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(NO_TORCH)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")]))
    child = subprocess.run([str(Path(sys.executable).parent / "lightllm"), "eval", str(out), str(text),
                            "--perplexity", "--windows", "2", "--window-length", "32"],
                           env=env, capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    lines = child.stdout.splitlines()
    assert lines[0] == f"{out}: {text}, 2 windows × 32 tokens"
    figure = float(lines[1].split("perplexity ")[1].split()[0])
    eager = evaluate_perplexity(run, text, windows=2, length=32).results[0]
    assert lines[1].startswith("  onnx fp32: perplexity ") and "over 62 tokens" in lines[1]
    assert figure == pytest.approx(eager.perplexity, rel=1e-3)


def test_an_imported_model_is_shown_beside_transformers(tmp_path):
    transformers = pytest.importorskip("transformers")
    import torch

    from light_llm.import_hf import import_hf
    from light_llm.tokenizer import byte_tokenizer

    config = transformers.LlamaConfig(vocab_size=258, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64)
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(config).save_pretrained(tmp_path / "hf")
    transformers.PreTrainedTokenizerFast(tokenizer_object=byte_tokenizer()).save_pretrained(tmp_path / "hf")
    import_hf(tmp_path / "hf", tmp_path / "model", verify=False)
    assert json.loads((tmp_path / "model" / "origin.json").read_text())["hf_source"] == str((tmp_path / "hf").resolve())
    result = evaluate_perplexity(tmp_path / "model", windows=2)
    ours, theirs = result.results
    assert theirs.backend == "transformers fp32" and theirs.tokens == ours.tokens == 2 * 63
    assert theirs.perplexity == pytest.approx(ours.perplexity, rel=1e-4)
    moved = tmp_path / "hf-moved"
    (tmp_path / "hf").rename(moved)
    alone = evaluate_perplexity(tmp_path / "model", windows=2)
    assert len(alone.results) == 1 and "pass --reference HF_DIR" in alone.notes[0]
    again = evaluate_perplexity(tmp_path / "model", windows=2, reference=moved)
    assert again.results[1].perplexity == pytest.approx(ours.perplexity, rel=1e-4)


@pytest.fixture
def cli():
    _register_commands()
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(arg) for arg in args])


def test_cli_errors_are_one_line(cli, llama_export, tmp_path):
    run, out = llama_export
    empty, short = tmp_path / "empty.txt", tmp_path / "short.txt"
    empty.write_text(" \n")
    short.write_text("too short")
    cases = [
        ((tmp_path / "missing", "--perplexity"), f"error: {tmp_path / 'missing'}: no such folder"),
        ((tmp_path, "--perplexity"), f"error: {tmp_path}: neither a model or run folder"),
        ((run, empty, "--perplexity"), f"error: {empty}: the text is empty"),
        ((run, short, "--perplexity"), "error: the text has 9 tokens, fewer than one window of 48"),
        ((run, tmp_path / "nope.txt", "--perplexity"), f"error: {tmp_path / 'nope.txt'}: no such text file"),
        ((run,), "error: choose an evaluation: --perplexity"),
        ((run, "--perplexity", "--reference", tmp_path), f"error: --reference {tmp_path}: not a Hugging Face"),
    ]
    for args, message in cases:
        result = cli("eval", *args)
        assert result.exit_code == 1, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(message), (args, result.output)
