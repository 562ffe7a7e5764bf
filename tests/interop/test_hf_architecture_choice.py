"""`lightllm export --hf` keeps the architecture a model was imported from (origin.json's
hf_model_type), `--hf-architecture NAME` chooses another that can express the model, and
one that cannot is refused naming each blocking option."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from light_llm.compiler.pipeline import lower_spec
from light_llm.interop.hf import choose_architecture, unmappable_options
from light_llm.schemas.load import load_spec

transformers = pytest.importorskip("transformers")

LIGHTLLM = [sys.executable, "-c", "from light_llm.cli.app import main; main()"]


def _lightllm(*args) -> subprocess.CompletedProcess:
    return subprocess.run([*LIGHTLLM, *map(str, args)], capture_output=True, text=True,
                          env=dict(os.environ, HF_HUB_OFFLINE="1"))


@pytest.fixture(scope="module")
def phi3(tmp_path_factory) -> Path:
    """A tiny random-weight Phi-3 (which Llama can express too) imported with import-hf."""
    root = tmp_path_factory.mktemp("phi3")
    config = transformers.Phi3Config(vocab_size=258, hidden_size=48, intermediate_size=136, num_hidden_layers=1,
                                     num_attention_heads=3, num_key_value_heads=1, max_position_embeddings=64,
                                     initializer_range=0.2, tie_word_embeddings=False, pad_token_id=257,
                                     bos_token_id=256, eos_token_id=256)
    torch.manual_seed(0)
    transformers.Phi3ForCausalLM(config).save_pretrained(root / "hf")
    done = _lightllm("import-hf", root / "hf", "--out", root / "model")
    assert done.returncode == 0, done.stderr[-2000:]
    return root


def _logits(folder: Path, ids: torch.Tensor) -> torch.Tensor:
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_hf_export_writes_the_imported_architecture_or_the_one_asked_for(phi3) -> None:
    assert json.loads((phi3 / "model" / "origin.json").read_text())["hf_model_type"] == "phi3"
    ids = torch.randint(0, 258, (2, 9), generator=torch.Generator().manual_seed(1))
    expected = _logits(phi3 / "hf", ids)
    kept = _lightllm("export", phi3 / "model", "--hf", "--out", phi3 / "kept")
    assert kept.returncode == 0, kept.stderr[-2000:]
    assert json.loads((phi3 / "kept" / "config.json").read_text())["architectures"] == ["Phi3ForCausalLM"]
    torch.testing.assert_close(_logits(phi3 / "kept", ids), expected, atol=1e-4, rtol=1e-4)
    asked = _lightllm("export", phi3 / "model", "--hf", "--hf-architecture", "llama", "--out", phi3 / "as-llama")
    assert asked.returncode == 0, asked.stderr[-2000:]
    assert json.loads((phi3 / "as-llama" / "config.json").read_text())["architectures"] == ["LlamaForCausalLM"]
    torch.testing.assert_close(_logits(phi3 / "as-llama", ids), expected, atol=1e-4, rtol=1e-4)


def _one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_an_architecture_that_cannot_express_the_model_is_refused(phi3) -> None:
    line = _one_line_error(_lightllm("export", phi3 / "model", "--hf", "--hf-architecture", "gpt2",
                                     "--out", phi3 / "gpt2"))
    assert "--hf-architecture gpt2: gpt2 cannot express this model" in line
    assert "model.norm.type" in line and "architectures that fit: llama" in line and "phi3" in line
    assert not (phi3 / "gpt2").exists()
    unknown = _one_line_error(_lightllm("export", phi3 / "model", "--hf", "--hf-architecture", "bert"))
    assert "'bert' has no mapping" in unknown and "llama" in unknown
    misplaced = _one_line_error(_lightllm("export", phi3 / "model", "--onnx", "--hf-architecture", "llama"))
    assert "--hf-architecture applies to --hf only" in misplaced


def test_an_imported_architecture_that_no_longer_fits_gives_the_first_that_does() -> None:
    ir = lower_spec(load_spec({"spec_version": 1, "model": {
        "name": "transformer", "d_model": 32, "num_layers": 1, "max_seq_len": 32, "attention": {"num_heads": 4}}}))
    chosen, note = choose_architecture(ir, preferred="gpt2")
    assert chosen == "llama"
    assert note.startswith("wrote llama, not the imported gpt2, which no longer fits (model.")
    assert choose_architecture(ir, preferred="llama") == ("llama", None)


def _ir(**model):
    return lower_spec(load_spec({"spec_version": 1, "model": {
        "name": "transformer", "d_model": 32, "num_layers": 4, "max_seq_len": 32, "attention": {"num_heads": 4},
        **model}}))


@pytest.mark.parametrize(("model", "family", "blocker"), [
    ({"residual_scale": 0.5}, "granite", "model.residual_scale=0.5 (llama needs 1.0)"),
    ({"logit_divisor": 8.0}, "granite", "model.logit_divisor=8.0 (llama needs 1.0)"),
    ({"positional": {"layer_pattern": ["rope", "none"]}}, "smollm3",
     "model.positional.layer_pattern=['rope', 'none', 'rope', 'none'] (llama needs none)"),
])
def test_granite_factors_and_nope_layers_map_onto_their_family_only(model, family, blocker) -> None:
    found = unmappable_options(_ir(**model))
    assert blocker in found["llama"]
    assert [name for name, blockers in found.items() if not blockers] == [family]
