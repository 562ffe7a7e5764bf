"""`lightllm compile SPEC [--out DIR]`: every example compiles; the model folder holds the
resolved spec, seeded weights and the tokenizer; compiling the resolved spec gives the
same IR; errors are one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import typer
from typer.testing import CliRunner

from light_llm.compiler.build import build
from light_llm.models.registry import FAMILIES
from light_llm.models.transformer.cost import model_cost
from light_llm.compiler.pipeline import lower_spec
from light_llm.model_folder import load_model_folder
from light_llm.schemas.load import load_spec

ROOT = Path(__file__).parent.parent.parent
EXAMPLES = sorted((ROOT / "examples" / "specs").glob("*.*"))
BROKEN = ROOT / "tests" / "data" / "broken_five_mistakes.yaml"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_every_example_compiles_and_recompiles_to_the_same_ir(example, cli_app: typer.Typer,
                                                             runner: CliRunner, tmp_path: Path):
    out = tmp_path / "model"
    result = runner.invoke(cli_app, ["compile", str(example), "--out", str(out)])
    assert result.exit_code == 0, result.output
    ir = lower_spec(load_spec(example))
    parameters = sum(p.numel() for p in build(ir).parameters())  # tied weights count once
    assert f"parameters          {parameters:,}" in result.output
    if ir.family == "transformer":
        assert model_cost(ir).parameters == parameters
        assert "attention kernel    " in result.output
    assert f"wrote {out}" in result.output

    folder = load_model_folder(out)
    assert lower_spec(folder.spec) == ir
    again = runner.invoke(cli_app, ["compile", str(out / "spec.resolved.json")])
    assert again.exit_code == 0, again.output
    assert _table(again.output) == _table(result.output)

    model = folder.build()
    seeded = build(ir, seed=load_spec(example).train.seed).eval()
    tokens = torch.randint(0, ir.vocab_size, (1, 6))
    with torch.no_grad():
        assert torch.equal(model(tokens), seeded(tokens))
    if load_spec(example).data.tokenizer == "byte":
        assert folder.tokenizer_path is not None


def _table(output: str) -> str:
    start = min(output.index(f"{name}: ") for name in FAMILIES if f"{name}: " in output)
    return output[start:output.index("wrote ") if "wrote " in output else None]


def test_compile_prints_the_resolved_spec(cli_app: typer.Typer, runner: CliRunner, tmp_path: Path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("model:\n  d_model: 32\n  num_layers: 1\n  attention:\n    num_heads: 8\n")
    result = runner.invoke(cli_app, ["compile", str(spec)])
    assert result.exit_code == 0, result.output
    assert '"num_kv_heads": 2' in result.output and '"head_dim": 4' in result.output
    assert '"vocab_size": 258' in result.output  # auto: the byte tokenizer


def test_invalid_spec_is_one_error_block_and_exit_1(cli_app: typer.Typer, runner: CliRunner):
    result = runner.invoke(cli_app, ["compile", str(BROKEN)])
    assert result.exit_code == 1
    assert result.output.startswith(f"{BROKEN}: 5 errors")
    assert "Traceback" not in result.output


def test_unwritable_out_is_a_clear_error(cli_app: typer.Typer, runner: CliRunner, tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = runner.invoke(cli_app, ["compile", str(EXAMPLES[0]), "--out", str(blocker / "model")])
    assert result.exit_code == 1
    assert "cannot write the model folder" in result.output.splitlines()[-1]
    assert "Traceback" not in result.output


def test_real_process(tmp_path: Path):
    tiny = ROOT / "examples" / "specs" / "tiny.yaml"
    command = [sys.executable, "-c", "from light_llm.cli.app import main; main()"]
    done = subprocess.run(
        [*command, "compile", str(tiny), "--out", str(tmp_path / "m")],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "model.safetensors", "spec.resolved.json", "tokenizer.json"
    ]


def test_vocabulary_that_disagrees_with_the_tokenizer_is_refused(cli_app, runner, tmp_path) -> None:
    spec = tmp_path / "vocab.yaml"
    spec.write_text("model:\n  vocab_size: 300\n  d_model: 64\n  num_layers: 1\n  max_seq_len: 32\n"
                    "  attention: {num_heads: 2}\ndata:\n  tokenizer: byte\n")
    result = runner.invoke(cli_app, ["compile", str(spec), "--out", str(tmp_path / "model")])
    assert result.exit_code == 1
    assert "vocabulary mismatch" in result.output and "258 tokens" in result.output
    assert not (tmp_path / "model").exists()


def test_the_table_shows_the_attention_options(cli_app: typer.Typer, runner: CliRunner, tmp_path: Path):
    spec = tmp_path / "gemma_like.yaml"
    spec.write_text(
        "spec_version: 1\nmodel:\n  d_model: 64\n  num_layers: 1\n"
        "  attention: {num_heads: 4, bias: qkv, qk_norm: whole, scale: 0.0625, logit_softcap: 50.0}\n"
        "  final_logit_softcap: 30.0\n  embedding_scale: sqrt_d_model\n"
    )
    result = runner.invoke(cli_app, ["compile", str(spec)])
    assert result.exit_code == 0, result.output
    for shown in ("bias=qkv", "qk_norm=whole", "scale=0.0625", "softcap=50", "attention kernel    softcap: logit_softcap",
                  "embedding scale     ×8", "final logit cap     30·tanh(logits/30)",
                  '"logit_softcap": 50.0', '"embedding_scale": "sqrt_d_model"'):
        assert shown in result.output, shown
