"""`lightllm import-hf`: Hugging Face folders written by transformers (random weights,
nothing downloaded) become model folders whose ONNX export gives the original model's
logits; folders of another architecture or with missing tensors are refused clearly."""

from __future__ import annotations

import json

import pytest
import torch
from onnx_vs_transformers import assert_onnx_equals_transformers, left_padded_prompts
from typer.testing import CliRunner

from light_llm.cli.app import _register_commands, app
from light_llm.exports.onnx import export_onnx
from light_llm.import_hf import HFImportError, import_hf, supported
from light_llm.model_folder import load_model_folder
from light_llm.tokenizer import byte_tokenizer

transformers = pytest.importorskip("transformers")

CONFIGS = {
    "llama": lambda: transformers.LlamaConfig(
        vocab_size=258, hidden_size=64, intermediate_size=176, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        rope_theta=500.0, tie_word_embeddings=False),
    "gpt2": lambda: transformers.GPT2Config(  # its own default activation, gelu_new
        vocab_size=258, n_embd=60, n_layer=3, n_head=5, n_positions=64),
    "gpt2-exact-gelu": lambda: transformers.GPT2Config(
        vocab_size=258, n_embd=64, n_layer=2, n_head=4, n_positions=64,
        activation_function="gelu", tie_word_embeddings=False),
    "qwen2": lambda: transformers.Qwen2Config(
        vocab_size=258, hidden_size=60, intermediate_size=152, num_hidden_layers=2,
        num_attention_heads=5, num_key_value_heads=1, max_position_embeddings=64,
        tie_word_embeddings=False),
    "qwen3": lambda: transformers.Qwen3Config(
        vocab_size=258, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=3, num_key_value_heads=1, head_dim=16, max_position_embeddings=64,
        tie_word_embeddings=True),
}


def save_hf_model(path, config, seed: int = 0) -> torch.nn.Module:
    """A randomly initialised transformers model with a byte-level tokenizer, saved."""
    torch.manual_seed(seed)
    config.initializer_range = 0.2  # logits far from zero, so a wrong import shows
    model = transformers.AutoModelForCausalLM.from_config(config).eval()
    model.save_pretrained(path)
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=byte_tokenizer(), eos_token="<|endoftext|>", pad_token="<|pad|>")
    tokenizer.save_pretrained(path)
    return model


def cli(*args: str):
    _register_commands()
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("family,form", [(family, "fused") for family in CONFIGS] + [("gpt2", "portable")])
def test_imported_model_exports_to_onnx_with_the_original_logits(tmp_path, family, form):
    original = save_hf_model(tmp_path / "hf", CONFIGS[family]())
    run = cli("import-hf", str(tmp_path / "hf"), "--out", str(tmp_path / "run"))
    assert run.exit_code == 0, run.output
    assert f"imported {family.split('-')[0]}" in run.output and "vs transformers: parity passed" in run.output

    folder = load_model_folder(tmp_path / "run")
    export_onnx(folder, tmp_path / "onnx", portable=form == "portable")
    assert_onnx_equals_transformers(folder, tmp_path / "onnx" / "model.onnx", original,
                                    *left_padded_prompts(258, length=9, padding=4))
    assert (tmp_path / "onnx" / "tokenizer.json").is_file()


def test_another_architecture_is_refused(tmp_path):
    config = transformers.BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=64)
    transformers.BertForMaskedLM(config).save_pretrained(tmp_path / "bert")
    run = cli("import-hf", str(tmp_path / "bert"), "--out", str(tmp_path / "run"))
    assert run.exit_code == 1 and "Traceback" not in run.output
    assert "model_type 'bert' (BertForMaskedLM) cannot be imported" in run.output
    assert f"supported: {', '.join(supported())}" in run.output and "qwen3_moe" in supported()
    assert not (tmp_path / "run").exists()


def test_missing_tensors_are_named(tmp_path):
    from safetensors.torch import load_file, save_file

    save_hf_model(tmp_path / "hf", CONFIGS["llama"]())
    weights = tmp_path / "hf" / "model.safetensors"
    state = load_file(weights)
    del state["model.layers.1.mlp.up_proj.weight"], state["lm_head.weight"]
    save_file(state, weights, metadata={"format": "pt"})
    with pytest.raises(HFImportError, match=r"missing tensors \(2\): lm_head.weight, "
                                            r"model.layers.1.mlp.up_proj.weight"):
        import_hf(tmp_path / "hf", tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_unexplained_tensors_and_missing_files_are_named(tmp_path):
    from safetensors.torch import load_file, save_file

    save_hf_model(tmp_path / "hf", CONFIGS["gpt2"]())
    weights = tmp_path / "hf" / "model.safetensors"
    state = load_file(weights)
    state["transformer.h.0.attn.q_norm.weight"] = torch.ones(64)
    save_file(state, weights, metadata={"format": "pt"})
    run = cli("import-hf", str(tmp_path / "hf"), "--out", str(tmp_path / "run"))
    assert run.exit_code == 1 and "does not explain (1): transformer.h.0.attn.q_norm.weight" in run.output

    weights.unlink()
    with pytest.raises(HFImportError, match="no model.safetensors"):
        import_hf(tmp_path / "hf", tmp_path / "run")
    (tmp_path / "hf" / "config.json").unlink()
    with pytest.raises(HFImportError, match="no config.json"):
        import_hf(tmp_path / "hf", tmp_path / "run")


def test_hf_config_that_light_llm_cannot_express_is_refused(tmp_path):
    save_hf_model(tmp_path / "hf", CONFIGS["gpt2"]())
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    config["activation_function"] = "quick_gelu"
    (tmp_path / "hf" / "config.json").write_text(json.dumps(config))
    with pytest.raises(HFImportError, match="'quick_gelu' has no light_llm equivalent"):
        import_hf(tmp_path / "hf", tmp_path / "run")


def refused(tmp_path, source) -> str:
    """The CLI's one line for a folder it refuses (exit 1, no traceback, nothing written)."""
    run = cli("import-hf", str(source), "--out", str(tmp_path / "run"))
    assert run.exit_code == 1 and "Traceback" not in run.output, run.output
    assert not (tmp_path / "run").exists()
    assert len(run.output.strip().splitlines()) == 1, run.output
    return run.output


def edit_config(folder, **changes) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | changes))


def test_unknown_rope_type_names_the_field_and_the_supported_ones(tmp_path):
    save_hf_model(tmp_path / "hf", CONFIGS["llama"]())
    edit_config(tmp_path / "hf", rope_parameters={"rope_type": "dynamic", "rope_theta": 500.0, "factor": 2.0})
    output = refused(tmp_path, tmp_path / "hf")
    assert "rope_type 'dynamic'" in output and "supported: default, linear" in output


def test_tensor_of_another_shape_is_named_with_both_shapes(tmp_path):
    from safetensors.torch import load_file, save_file

    save_hf_model(tmp_path / "hf", CONFIGS["llama"]())
    weights = tmp_path / "hf" / "model.safetensors"
    state = load_file(weights)
    state["model.layers.1.mlp.up_proj.weight"] = torch.zeros(160, 64)
    save_file(state, weights, metadata={"format": "pt"})
    output = refused(tmp_path, tmp_path / "hf")
    assert "model.layers.1.mlp.up_proj.weight is [160, 64] in the file, [176, 64] for config.json" in output


def test_pytorch_model_bin_loads_with_weights_only(tmp_path):
    original = save_hf_model(tmp_path / "hf", CONFIGS["llama"]())
    (tmp_path / "hf" / "model.safetensors").unlink()
    torch.save(original.state_dict(), tmp_path / "hf" / "pytorch_model.bin")
    result = import_hf(tmp_path / "hf", tmp_path / "run")
    assert result.parity.passed
    assert "read pytorch_model.bin with torch.load(weights_only=True)" in result.notes


class NotATensor:
    """Stands for any object a pickle may carry (and run code with when unpickled)."""


def test_pytorch_model_bin_with_other_objects_is_refused_unread(tmp_path):
    original = save_hf_model(tmp_path / "hf", CONFIGS["llama"]())
    (tmp_path / "hf" / "model.safetensors").unlink()
    torch.save({**original.state_dict(), "extra": NotATensor()}, tmp_path / "hf" / "pytorch_model.bin")
    output = refused(tmp_path, tmp_path / "hf")
    assert "pytorch_model.bin: refused: not loadable with torch.load(weights_only=True)" in output
    assert "re-save as safetensors" in output


def test_other_pickle_files_are_not_read(tmp_path):
    original = save_hf_model(tmp_path / "hf", CONFIGS["gpt2"]())
    (tmp_path / "hf" / "model.safetensors").unlink()
    torch.save(original.state_dict(), tmp_path / "hf" / "weights.pt")
    output = refused(tmp_path, tmp_path / "hf")
    assert "weights.pt are not read (pickle)" in output and "safe_serialization=True" in output


def test_phi3_long_context_and_partial_rotary_are_each_named(tmp_path):
    config = transformers.Phi3Config(vocab_size=258, hidden_size=64, intermediate_size=176, num_hidden_layers=1,
                                     num_attention_heads=4, max_position_embeddings=64,
                                     pad_token_id=None)
    save_hf_model(tmp_path / "hf", config)
    edit_config(tmp_path / "hf", rope_parameters={"rope_type": "longrope", "rope_theta": 1e4,
                                                  "partial_rotary_factor": 0.5,
                                                  "short_factor": [1.0] * 4, "long_factor": [2.0] * 4})
    output = refused(tmp_path, tmp_path / "hf")
    assert "rope_parameters.rope_type='longrope'" in output and "supported: 'default'" in output
    assert "partial_rotary_factor=0.5" in output


def test_llama3_rope_scaling_imports_and_exports_with_the_original_logits(tmp_path, monkeypatch):
    """Llama 3.1-style rope_parameters; the 9-token prompts run past its
    original_max_position_embeddings (4), where the llama3 rule changes the frequencies."""
    monkeypatch.setitem(CONFIGS, "llama", lambda: transformers.LlamaConfig(
        vocab_size=258, hidden_size=64, intermediate_size=176, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=1, max_position_embeddings=64,
        tie_word_embeddings=True,
        rope_parameters={"rope_type": "llama3", "rope_theta": 500.0, "factor": 8.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0, "original_max_position_embeddings": 4}))
    test_imported_model_exports_to_onnx_with_the_original_logits(tmp_path, "llama", "fused")
    spec = load_model_folder(tmp_path / "run").spec.model
    assert spec.positional.rope_scaling.type == "llama3"


@pytest.mark.parametrize("family", ["qwen2", "qwen3", "gpt2"])
def test_imported_architecture_trains_a_few_steps_and_exports(tmp_path, family):
    """The imported spec's model (QKV biases; per-head QK norm) trains and its trained
    weights export to ONNX with the parity gate passing."""
    from light_llm.schemas.load import load_spec
    from light_llm.train.trainer import Trainer

    save_hf_model(tmp_path / "hf", CONFIGS[family]())
    import_hf(tmp_path / "hf", tmp_path / "imported")
    model = load_model_folder(tmp_path / "imported").spec.model.model_dump(exclude_unset=True)
    spec = load_spec({"spec_version": 1, "model": model | {"max_seq_len": 32},
                      "data": {"corpus": "stdlib", "max_corpus_bytes": 60_000},
                      "train": {"steps": 4, "batch_size": 2, "warmup_steps": 1, "eval_every": 4,
                                "eval_batches": 1, "checkpoint_every": 4}})
    summary = Trainer(spec, tmp_path / "run").train()
    assert summary is not None
    trained = load_model_folder(tmp_path / "run")
    norms = [name for name in trained.build().state_dict() if name.endswith(("q_norm.weight", "q_proj.bias"))]
    assert norms  # the option's parameters are in the trained model
    assert export_onnx(trained, tmp_path / "onnx").parity.passed


def test_named_chat_templates_and_every_end_token_are_kept(tmp_path):
    """tokenizer_config.json's list of named templates stays a list (the default one is
    checked); generation_config.json's list of end tokens gains config.json's and the
    tokenizer's eos_token, each once."""
    save_hf_model(tmp_path / "hf", CONFIGS["llama"]())
    default = "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}"
    named = [{"name": "default", "template": default}, {"name": "rag", "template": "{{ documents }}"}]
    config = json.loads((tmp_path / "hf" / "tokenizer_config.json").read_text())
    (tmp_path / "hf" / "tokenizer_config.json").write_text(json.dumps({**config, "chat_template": named}))
    (tmp_path / "hf" / "generation_config.json").write_text(json.dumps({"eos_token_id": [257, 3]}))
    edit_config(tmp_path / "hf", eos_token_id=3)
    import_hf(tmp_path / "hf", tmp_path / "model", verify=False)
    kept = json.loads((tmp_path / "model" / "tokenizer_config.json").read_text())
    assert kept["chat_template"] == named and kept["eos_token"] == "<|endoftext|>"
    generation = json.loads((tmp_path / "model" / "generation_config.json").read_text())
    assert generation["eos_token_id"] == [257, 3, 256]


def test_a_gguf_chat_template_that_raises_refuses_the_import(tmp_path):
    from gguf_files import spm_tokens, write_gguf
    from test_gguf_import import random_model

    source = write_gguf(tmp_path / "chat.gguf", random_model(vocab_size=len(spm_tokens())), tokenizer="llama",
                        metadata={"tokenizer.chat_template": "{{ raise_exception('no tools here') }}"})
    with pytest.raises(HFImportError, match=r"chat.gguf: the chat template raised: no tools here; nothing imported"):
        import_hf(source, tmp_path / "run", verify=False)
    assert not (tmp_path / "run").exists()
