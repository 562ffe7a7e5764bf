"""Hugging Face export: transformers loads the folder and gives eager's logits; the round
trip light_llm → HF → light_llm keeps the logits; a spec that maps nowhere is refused
with every option that prevents it."""

from __future__ import annotations

import json

import pytest
import torch
from torch_targets_matrix import merged, model_folder
from typer.testing import CliRunner

from light_llm.cli.app import _register_commands, app
from light_llm.compiler.pipeline import lower_spec
from light_llm.exports.folder import MANIFEST
from light_llm.exports.hf import export_hf
from light_llm.exports.result import ExportError
from light_llm.import_hf import import_hf
from light_llm.model_folder import load_model_folder

transformers = pytest.importorskip("transformers")

LLAMA = {"attention": {"variant": "gqa", "num_heads": 4, "num_kv_heads": 2}, "tie_embeddings": False}
CASES = {
    "llama": LLAMA,
    "mistral": merged(LLAMA, {"attention": {"mask_type": "sliding_window", "window_size": 5}}),
    "gpt2": {"attention": {"variant": "mha", "num_heads": 4, "bias": True},
             "positional": {"encoding": "learned"}, "norm": {"type": "layernorm"},
             "ffn": {"variant": "mlp", "activation": "gelu", "bias": True, "expansion_factor": 4.0}},
    "gpt2-gelu-tanh": {"attention": {"variant": "mha", "num_heads": 4, "bias": True},
                       "positional": {"encoding": "learned"}, "norm": {"type": "layernorm"},
                       "ffn": {"variant": "mlp", "activation": "gelu_tanh", "bias": True}},
    "llama-geglu-tanh": merged(LLAMA, {"ffn": {"variant": "geglu", "activation": "gelu_tanh"}}),
    "qwen2": merged(LLAMA, {"attention": {"bias": "qkv"}}),
    "qwen3": {"attention": {"variant": "mqa", "num_heads": 3, "head_dim": 16, "qk_norm": "per_head"}},
}
HF_FILES = {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            MANIFEST}


@pytest.mark.parametrize("case", CASES)
def test_transformers_loads_the_folder_with_eager_logits(tmp_path, case):
    folder = model_folder(tmp_path / "run", CASES[case])
    result = export_hf(folder, tmp_path / "hf")
    assert set(result.files) == HF_FILES and result.parity.passed
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["model_type"] == case.split("-")[0]
    if case == "gpt2-gelu-tanh":
        assert config["activation_function"] == "gelu_new"  # GPT-2's own name for it

    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    ids = tokenizer("def f(x):\n    return x * 2\n", return_tensors="pt")["input_ids"]
    assert ids.shape[1] > 5  # longer than mistral's window
    with torch.no_grad():
        expected, actual = folder.build()(ids), hf(ids).logits
    assert (actual - expected).abs().max() < 1e-4 and expected.abs().max() > 1e-2


@pytest.mark.parametrize("case", ["llama", "gpt2", "qwen2", "qwen3", "gpt2-gelu-tanh", "llama-geglu-tanh"])
def test_round_trip_through_hugging_face_keeps_logits(tmp_path, case):
    folder = model_folder(tmp_path / "run", CASES[case])
    export_hf(folder, tmp_path / "hf")
    imported = import_hf(tmp_path / "hf", tmp_path / "back")
    assert imported.parity.passed
    back = load_model_folder(tmp_path / "back")
    assert lower_spec(back.spec) == lower_spec(folder.spec)  # the same architecture
    tokens = torch.randint(0, 258, (2, 16), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.allclose(back.build()(tokens), folder.build()(tokens), atol=1e-6)
    assert back.tokenizer_path is not None


def test_unmappable_spec_names_every_blocking_option(tmp_path):
    folder = model_folder(tmp_path / "run", {
        "attention": {"variant": "complex", "num_heads": 4},
        "positional": {"encoding": "alibi"}, "norm": {"placement": "sandwich"},
        "parallel_layers": True, "lm_head_bias": True,
    })
    with pytest.raises(ExportError) as error:
        export_hf(folder, tmp_path / "hf")
    message = str(error.value)
    for option in ("model.attention.variant='complex'", "model.positional.encoding='alibi'",
                   "model.norm.placement='sandwich'", "model.parallel_layers=true",
                   "model.lm_head_bias=true (llama, mistral, gpt2",
                   "model.norm.type='rmsnorm' (gpt2"):
        assert option in message
    assert not (tmp_path / "hf").exists()

    _register_commands()
    run = CliRunner().invoke(app, ["export", str(tmp_path / "run"), "--hf", "--out", str(tmp_path / "hf")])
    assert run.exit_code == 1 and "Traceback" not in run.output
    assert "model.positional.encoding='alibi'" in run.output and not (tmp_path / "hf").exists()
