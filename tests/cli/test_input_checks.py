"""Bad input where it enters: each case is refused with one line (≤ 300 characters),
a non-zero exit and no traceback; a damaged token cache is rebuilt with a warning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[2]
TINY = {"d_model": 16, "num_layers": 1, "max_seq_len": 16, "attention": {"num_heads": 2}}
FAST_TRAIN = {"steps": 2, "batch_size": 2, "eval_every": 2, "eval_batches": 1, "checkpoint_every": 2,
              "warmup_steps": 0}


def write_spec(path: Path, model: dict | None = None, **sections) -> Path:
    path.write_text(yaml.safe_dump({"model": model if model is not None else TINY, **sections}))
    return path


def one_line_error(result, runner_output: str | None = None) -> str:
    output = runner_output if runner_output is not None else result.output
    assert result.exit_code != 0, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert len(lines[0]) <= 300, lines[0]
    return lines[0]


def invoke(runner, app, *args: str):
    return runner.invoke(app, [str(arg) for arg in args])


# --- specs: bounds and strict types -------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "words"),
    [
        ({"num_layers": 10**9}, "model.num_layers: got 1000000000; allowed: an integer ≥ 1 and ≤ 1024"),
        ({"ffn": {"expansion_factor": 1.7976931348623157e308}}, "≤ 64.0"),
        ({"d_model": 10**400}, "model.d_model: got 1000"),
        ({"init_std": 1e30}, "larger weights overflow fp32"),
        ({"positional": {"rope_base": 1e-300}}, "overflow fp32"),
        ({"d_model": "64"}, "model.d_model: got '64'"),
        ({"num_layers": True}, "model.num_layers: got true"),
        ({"tie_embeddings": 0}, "model.tie_embeddings: got 0; allowed: true or false"),
    ],
)
def test_compile_refuses_specs_that_would_not_build(cli_app, runner, tmp_path, model, words):
    result = invoke(runner, cli_app, "compile", write_spec(tmp_path / "s.yaml", model))
    assert words in result.output
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert all(len(line) <= 300 for line in result.output.splitlines())


def test_a_long_unknown_key_is_shortened(cli_app, runner, tmp_path):
    spec = write_spec(tmp_path / "s.yaml", {**TINY, "k" * 5000: 1})
    result = invoke(runner, cli_app, "validate", spec)
    assert result.exit_code == 1 and "…" in result.output and "allowed keys" in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 300


def test_a_tokenizer_name_too_long_for_the_file_system(cli_app, runner, tmp_path):
    spec = write_spec(tmp_path / "s.yaml", data={"tokenizer": "t" * 300 + ".json"})
    line = one_line_error(invoke(runner, cli_app, "compile", spec))
    assert "data.tokenizer" in line and "cannot be opened (File name too long)" in line


def test_compile_reports_memory_and_refuses_what_cannot_fit(cli_app, runner, tmp_path):
    small = invoke(runner, cli_app, "compile", write_spec(tmp_path / "small.yaml"))
    assert small.exit_code == 0 and "memory: " in small.output and "training ≈ " in small.output
    huge = write_spec(tmp_path / "huge.yaml", {"d_model": 65536, "num_layers": 1024, "vocab_size": 1048576,
                                               "attention": {"num_heads": 64}})
    line = one_line_error(invoke(runner, cli_app, "compile", huge))
    assert "training this spec needs about" in line and "TiB" in line and "--allow-large" in line
    allowed = invoke(runner, cli_app, "compile", huge, "--allow-large")
    assert "training this spec needs" not in allowed.output  # goes on to the next check


def test_train_refuses_what_cannot_fit(cli_app, runner, tmp_path):
    spec = write_spec(tmp_path / "s.yaml", {"d_model": 8192, "num_layers": 512, "attention": {"num_heads": 8}})
    result = runner.invoke(cli_app, ["train", str(spec), "--out", str(tmp_path / "run")])
    line = one_line_error(result)
    assert "training this spec needs about" in line and "--allow-large" in line


# --- corpora and tokenizers ----------------------------------------------------------------


def test_train_refuses_a_corpus_that_is_not_utf8(cli_app, runner, tmp_path):
    corpus = tmp_path / "latin1.txt"
    corpus.write_bytes("café crème ".encode("latin-1") * 50)
    spec = write_spec(tmp_path / "s.yaml", data={"corpus": str(corpus)}, train=FAST_TRAIN)
    line = one_line_error(runner.invoke(cli_app, ["train", str(spec), "--out", str(tmp_path / "run")]))
    assert "not UTF-8 text (byte 0xe9 at offset 3; 100 undecodable bytes in all)" in line


def test_train_refuses_a_random_bytes_tokenizer(cli_app, runner, tmp_path):
    tokenizer = tmp_path / "tokenizer.json"
    tokenizer.write_bytes(os.urandom(512))
    spec = write_spec(tmp_path / "s.yaml", data={"tokenizer": str(tokenizer)}, train=FAST_TRAIN)
    line = one_line_error(runner.invoke(cli_app, ["train", str(spec), "--out", str(tmp_path / "run")]))
    assert "not a valid tokenizer.json" in line


def test_train_refuses_a_tokenizer_of_another_size(cli_app, runner, tmp_path):
    from light_llm.train.tokenizer import byte_tokenizer

    tokenizer = tmp_path / "tokenizer.json"
    byte_tokenizer().save(str(tokenizer))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("some text " * 100)
    spec = write_spec(tmp_path / "s.yaml", {**TINY, "vocab_size": 300}, data={"tokenizer": str(tokenizer), "corpus": str(corpus)},
                      train=FAST_TRAIN)
    line = one_line_error(runner.invoke(cli_app, ["train", str(spec), "--out", str(tmp_path / "run")]))
    assert "has 258 tokens but model.vocab_size=300" in line


def test_resume_rebuilds_a_truncated_token_cache(cli_app, runner, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 40)
    spec = write_spec(tmp_path / "s.yaml", data={"corpus": str(corpus)}, train=FAST_TRAIN)
    run = tmp_path / "run"
    first = runner.invoke(cli_app, ["train", str(spec), "--out", str(run)])
    assert first.exit_code == 0, first.output
    [meta] = list(run.rglob("tokens.json"))
    meta.write_text(meta.read_text()[:20])
    again = runner.invoke(cli_app, ["train", str(spec), "--out", str(run), "--resume", "--steps", "4"])
    assert again.exit_code == 0, again.output
    assert "damaged token cache" in again.output and "Traceback" not in again.output
    assert json.loads(meta.read_text())["num_tokens"] > 0


# --- generate ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory) -> Path:
    from typer.testing import CliRunner

    from light_llm.cli import app as cli

    cli._register_commands()
    root = tmp_path_factory.mktemp("generate")
    spec = write_spec(root / "s.yaml")
    result = CliRunner().invoke(cli.app, ["compile", str(spec), "--out", str(root / "model")])
    assert result.exit_code == 0, result.output
    return root / "model"


def lightllm(*args: str | bytes) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    command = [sys.executable, "-c", "from light_llm.cli.app import main; main()"]
    return subprocess.run([*command, *args], capture_output=True, env=env, timeout=120)


def test_generate_refuses_a_prompt_that_is_not_utf8(model_folder):
    result = lightllm("generate", str(model_folder), "--prompt", b"caf\xe9")
    assert result.returncode == 1, result
    assert result.stdout == b"" and b"Traceback" not in result.stderr
    assert result.stderr.decode() == (
        "error: --prompt is not valid UTF-8 text (byte 0xe9 at byte offset 3); pass UTF-8 text\n"
    )


@pytest.mark.parametrize("count", ["-1", "0"])
def test_generate_refuses_max_new_tokens_below_one(cli_app, runner, model_folder, count):
    result = invoke(runner, cli_app, "generate", model_folder, "--prompt", "hi", "--max-new-tokens", count)
    assert one_line_error(result) == f"error: --max-new-tokens {count}: allowed: an integer ≥ 1"


def test_generate_still_generates(cli_app, runner, model_folder):
    result = invoke(runner, cli_app, "generate", model_folder, "--prompt", "hi", "--max-new-tokens", "3")
    assert result.exit_code == 0 and result.output.startswith("hi")


# --- import-hf -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory) -> Path:
    transformers = pytest.importorskip("transformers")
    import torch

    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=200, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=16)
    path = tmp_path_factory.mktemp("hf") / "llama"
    transformers.AutoModelForCausalLM.from_config(config).save_pretrained(path)
    return path


def test_import_hf_refuses_a_random_bytes_tokenizer(cli_app, runner, hf_folder, tmp_path):
    (hf_folder / "tokenizer.json").write_bytes(os.urandom(256))
    result = invoke(runner, cli_app, "import-hf", hf_folder, "--out", tmp_path / "run")
    line = one_line_error(result)
    assert line.startswith("error: ") and "tokenizer.json: not a valid tokenizer.json" in line
    assert not (tmp_path / "run").exists()


def test_import_hf_refuses_a_tokenizer_larger_than_the_vocabulary(cli_app, runner, hf_folder, tmp_path):
    from light_llm.train.tokenizer import byte_tokenizer

    byte_tokenizer().save(str(hf_folder / "tokenizer.json"))  # 258 tokens, vocab_size 200
    line = one_line_error(invoke(runner, cli_app, "import-hf", hf_folder, "--out", tmp_path / "run"))
    assert "the tokenizer has 258 tokens but the model's vocabulary has 200 rows" in line
    assert not (tmp_path / "run").exists()
