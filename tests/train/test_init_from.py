"""`lightllm train --init-from MODEL_DIR`: a random-weight transformers Llama imported with
import-hf trains from its own weights (the first step's loss is the imported model's loss
on that batch, not a fresh initialisation's) and the run exports; a spec whose model
differs is refused naming each differing key. The run keeps the imported
tokenizer_config.json (it tokenizes with the imported tokenizer.json)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from train_helpers import lightllm_command, metric_records

from light_llm.compiler.build import build
from light_llm.compiler.pipeline import lower_spec
from light_llm.model_folder import load_model_folder
from light_llm.train.data import WindowSampler
from light_llm.train.prepare import prepare_data

transformers = pytest.importorskip("transformers")

SEQ_LEN, BATCH = 16, 2


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    """A tiny Llama (odd head count, one KV head, init range far from zero) → import-hf."""
    from light_llm.import_hf import import_hf
    from light_llm.tokenizer import byte_tokenizer

    root = tmp_path_factory.mktemp("init-from")
    config = transformers.LlamaConfig(
        vocab_size=258, hidden_size=48, intermediate_size=136, num_hidden_layers=2, num_attention_heads=3,
        num_key_value_heads=1, max_position_embeddings=64, initializer_range=0.2, tie_word_embeddings=False,
        bos_token_id=256, eos_token_id=256, pad_token_id=257)
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(config).save_pretrained(root / "hf")
    transformers.PreTrainedTokenizerFast(tokenizer_object=byte_tokenizer(), eos_token="<|endoftext|>",
                                         pad_token="<|pad|>").save_pretrained(root / "hf")
    import_hf(root / "hf", root / "model", verify=False)
    return root / "model"


def _train_command(model: Path, run: Path, corpus: Path, *extra: str) -> list[str]:
    return [*lightllm_command(), "train", *extra, "--out", str(run), "--init-from", str(model), "--steps", "3",
            "--batch-size", str(BATCH), "--eval-every", "3", "--no-tensorboard", "--set", f"data.corpus={corpus}",
            "--set", f"train.seq_len={SEQ_LEN}", "--set", "train.warmup_steps=1", "--set", "train.eval_batches=1"]


def _first_batch_loss(model: torch.nn.Module, run: Path) -> float:
    """The loss of `model` on the run's first training batch (the sampler replayed)."""
    spec = load_model_folder(run).spec
    tokens = prepare_data(spec, run, SEQ_LEN).splits.train
    sampler = WindowSampler(tokens, SEQ_LEN, spec.train.seed)
    windows = sampler.windows(sampler.offsets(BATCH))
    with torch.no_grad():
        logits = model.eval()(windows[:, :-1])
    return F.cross_entropy(logits.flatten(0, 1), windows[:, 1:].flatten()).item()


def test_imported_model_trains_from_its_weights_and_exports(imported, text_corpus, tmp_path) -> None:
    run = tmp_path / "run"
    done = subprocess.run(_train_command(imported, run, text_corpus), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"from the weights of {imported}" in " ".join(done.stdout.split())
    first = metric_records(run, "loss")[0]
    assert first == pytest.approx(_first_batch_loss(load_model_folder(imported).build(), run), abs=1e-4)
    fresh = build(lower_spec(load_model_folder(run).spec), seed=load_model_folder(run).spec.train.seed)
    assert abs(first - _first_batch_loss(fresh, run)) > 0.1  # a fresh init would not give it
    origin = json.loads((run / "origin.json").read_text())
    assert origin == {"hf_model_type": "llama", "hf_source": str((imported.parent / "hf").resolve()),
                      "init_from": str(imported.resolve())}
    trained = load_model_folder(run)
    assert trained.spec.model == load_model_folder(imported).spec.model
    exported = subprocess.run([*lightllm_command(), "export", str(run), "--onnx", "--out", str(tmp_path / "onnx")],
                              capture_output=True, text=True)
    assert exported.returncode == 0, exported.stderr[-2000:]
    assert "parity passed" in exported.stdout
    imported_tokenizer_config = (imported / "tokenizer_config.json").read_text()  # pad token, template
    assert (run / "tokenizer_config.json").read_text() == imported_tokenizer_config
    assert (tmp_path / "onnx" / "tokenizer_config.json").read_text() == imported_tokenizer_config


def test_resume_continues_the_checkpoint_not_the_init_folder(imported, text_corpus, tmp_path) -> None:
    from light_llm.cli import app as cli
    from typer.testing import CliRunner

    if not cli.app.registered_commands:
        cli._register_commands()
    run = tmp_path / "run"
    first = CliRunner().invoke(cli.app, _train_command(imported, run, text_corpus)[1:])
    assert first.exit_code == 0, first.output
    longer = [*_train_command(imported, run, text_corpus, "--resume")[1:], "--steps", "4"]
    resumed = CliRunner().invoke(cli.app, longer)
    assert resumed.exit_code == 0, resumed.output
    assert "--init-from ignored" in " ".join(resumed.output.split())
    assert len(metric_records(run, "loss")) == 4


def _one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_a_model_that_differs_is_refused_naming_each_key(imported, text_corpus, tmp_path) -> None:
    from light_llm.cli import app as cli
    from typer.testing import CliRunner

    if not cli.app.registered_commands:
        cli._register_commands()
    command = _train_command(imported, tmp_path / "run", text_corpus)[1:]
    result = CliRunner().invoke(cli.app, [*command, "--set", "model.num_layers=1", "--set", "model.d_model=24"])
    line = _one_line_error(result)
    assert "model.num_layers: spec 1, folder 2" in line
    assert "model.d_model: spec 24, folder 48" in line
    assert not (tmp_path / "run").exists()
    missing = _one_line_error(CliRunner().invoke(cli.app, ["train", "--out", str(tmp_path / "run")]))
    assert "--init-from MODEL_DIR" in missing
    not_a_folder = _one_line_error(CliRunner().invoke(cli.app, [*command[:command.index("--init-from")],
                                                                 "--init-from", str(tmp_path)]))
    assert str(tmp_path) in not_a_folder and "not a light_llm model folder" in not_a_folder
