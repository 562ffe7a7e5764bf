"""The second built-in family, chosen by `model.name: mixer` in a spec file, end to end
through the real CLI: validate, compile, train, export --onnx (full-sequence: no KV
cache), generate from the export and from the run folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from light_llm.compiler.build import build
from light_llm.compiler.pipeline import lower_spec
from light_llm.schemas.load import load_spec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "specs" / "mixer.yaml"


def lightllm(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-c", "from light_llm.cli.app import main; main()", *args]
    result = subprocess.run(command,
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def test_mixer_is_causal_and_refuses_sequences_past_max_seq_len():
    spec = load_spec({"model": {"name": "mixer", "vocab_size": 30, "d_model": 8,
                                "num_layers": 1, "max_seq_len": 12, "hidden_dim": 16}})
    model = build(lower_spec(spec), seed=0).eval()
    tokens = torch.randint(0, 30, (2, 12))
    changed = tokens.clone()
    changed[:, 7] = (changed[:, 7] + 1) % 30
    with torch.no_grad():
        before, after = model(tokens), model(changed)
    assert torch.equal(before[:, :7], after[:, :7]) and not torch.allclose(before[:, 7:], after[:, 7:])
    with pytest.raises(ValueError, match="max_seq_len=12"):
        model(torch.zeros(1, 13, dtype=torch.long))


def test_mixer_spec_end_to_end_through_the_cli(tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("the quick brown fox jumps over the lazy dog\n" * 200)
    spec = tmp_path / "mixer.json"
    data = load_spec(EXAMPLE).model_dump(by_alias=True, exclude_unset=True)
    data["model"] |= {"d_model": 16, "num_layers": 1, "max_seq_len": 32, "hidden_dim": 32}
    data["data"] = {"corpus": str(corpus), "tokenizer": "byte"}
    data["train"] = {"steps": 3, "batch_size": 2, "seq_len": 32, "eval_every": 3, "checkpoint_every": 3}
    spec.write_text(json.dumps(data))

    assert "ok (mixer" in lightllm("validate", str(spec))
    compiled = lightllm("compile", str(spec))
    assert '"name": "mixer"' in compiled and "parameters" in compiled
    run = tmp_path / "run"
    assert "trained steps 0→3" in lightllm("train", str(spec), "--out", str(run))
    export = tmp_path / "onnx"
    exported = lightllm("export", str(run), "--onnx", "--out", str(export))
    assert "parity passed" in exported
    manifest = json.loads((export / "light_llm.json").read_text())
    assert manifest["geometry"]["cached"] is False
    assert manifest["inputs"] == ["input_ids", "attention_mask"] and manifest["outputs"] == ["logits"]
    from_export = lightllm("generate", str(export), "--prompt", "the quick", "--max-new-tokens", "6")
    from_run = lightllm("generate", str(run), "--prompt", "the quick", "--max-new-tokens", "6")
    assert from_export.startswith("the quick") and len(from_export.strip()) > len("the quick")
    assert from_export == from_run  # greedy: the ONNX graph and eager PyTorch agree
