"""GGUF export (`lightllm export RUN --gguf`): the file runs in llama.cpp itself
(llama-cpp-python) with eager PyTorch's greedy tokens (F32) on a trained model and on an
imported Hugging Face Llama, its quantized types pass the quantized gate in llama.cpp, it
imports back to the same spec and weights, `lightllm verify` re-checks it, and specs no
llama.cpp architecture expresses are refused in one line with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from gguf_llama_cpp import assert_llama_cpp_greedy_equals_eager
from torch_targets_matrix import merged, model_folder
from typer.testing import CliRunner

from light_llm.cli.app import _register_commands, app
from light_llm.exports.gguf import export_gguf
from light_llm.exports.llama_cpp import LlamaCpp
from light_llm.exports.result import ParityError
from light_llm.interop.gguf.architectures import ARCHITECTURES
from light_llm.interop.gguf.file import GGUFFile
from light_llm.model_folder import load_model_folder

transformers = pytest.importorskip("transformers")

LLAMA_STYLE = {"attention": {"variant": "gqa", "num_heads": 4, "num_kv_heads": 2},
               "positional": {"encoding": "rope", "rope_base": 500.0}, "init_std": 0.02}
PROMPT = "def parse(text):\n    "


def cli(*args: str):
    _register_commands()
    return CliRunner().invoke(app, [str(arg) for arg in args])


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    """The demo's built-in spec (byte tokenizer), trained briefly on its corpus."""
    import yaml

    from light_llm.presets import default_spec_path
    from light_llm.schemas.load import load_spec
    from light_llm.train.trainer import Trainer

    spec = yaml.safe_load(default_spec_path().read_text())
    spec["data"]["max_corpus_bytes"] = 300_000
    spec["train"] = {"steps": 60, "batch_size": 8, "warmup_steps": 5, "eval_every": 60, "eval_batches": 2,
                     "checkpoint_every": 60}
    run = tmp_path_factory.mktemp("demo") / "run"
    Trainer(load_spec(spec), run).train()
    return run


def test_the_trained_demo_model_runs_in_llama_cpp_with_eager_greedy_tokens(demo_run, llama_cpp, tmp_path):
    out = tmp_path / "gguf"
    result = cli("export", demo_run, "--gguf", "--out", out)
    assert result.exit_code == 0, result.output
    assert "gguf: wrote" in result.output and "parity passed (fp32)" in result.output
    assert {"model.gguf", "Modelfile", "tokenizer.json", "light_llm.json"} <= {p.name for p in out.iterdir()}
    file = GGUFFile(out / "model.gguf")
    assert file.architecture == "llama" and file.tensor_types() == {"F32": len(file.tensors)}
    assert file.get("tokenizer.ggml.model") == "gpt2" and file.get("tokenizer.ggml.pre") == "gpt-2"
    manifest = json.loads((out / "light_llm.json").read_text())
    names = [check["name"] for check in manifest["parity"]["checks"]]
    assert any(name.startswith("llama.cpp: greedy generation") for name in names)  # the export ran llama.cpp
    assert_llama_cpp_greedy_equals_eager(out / "model.gguf", load_model_folder(demo_run), PROMPT)

    assert cli("verify", out).exit_code == 0
    with (out / "model.gguf").open("r+b") as handle:  # one weight changed after the export
        handle.seek(-8, 2)
        handle.write(b"\x00" * 8)
    failed = cli("verify", out)
    assert failed.exit_code == 1 and "altered after export" in failed.output


@pytest.mark.parametrize("gguf_type", ["q8_0", "q4_0"])
def test_quantized_types_pass_the_quantized_gate_in_llama_cpp(demo_run, llama_cpp, tmp_path, gguf_type):
    result = export_gguf(load_model_folder(demo_run), tmp_path / gguf_type, gguf_type=gguf_type)
    report = result.parity
    assert report.passed and report.mode == "quantized"
    judged = {check.name for check in report.text_checks}
    assert {"built-in text", "validation split", "llama.cpp: built-in text", "llama.cpp: validation split"} <= judged
    assert any(check.name.startswith("llama.cpp: KV-cache decode") for check in report.cache_checks)
    assert GGUFFile(tmp_path / gguf_type / "model.gguf").tensor_types()[gguf_type.upper()] > 0


def test_a_file_without_llama_cpps_qk_row_order_is_refused_and_nothing_written(tmp_path, monkeypatch):
    """The gate can refuse: Q and K written in Hugging Face's row order, which llama.cpp's
    llama graph and transformers' GGUF loader both read as interleaved."""
    from light_llm.interop.gguf import weights

    folder = model_folder(tmp_path / "run", LLAMA_STYLE)
    monkeypatch.setattr(weights, "permute_heads", lambda tensor, heads: tensor)
    with pytest.raises(ParityError, match="GGUF parity check failed, no export written"):
        export_gguf(folder, tmp_path / "gguf")
    assert not (tmp_path / "gguf").exists()


@pytest.mark.parametrize("model,architecture", [
    ({"attention": {"bias": "qkv"}}, "qwen2"),
    ({"attention": {"qk_norm": "per_head"}}, "qwen3"),
    ({"attention": {"bias": True}, "ffn": {"bias": True}, "tie_embeddings": False}, "llama"),
    ({"positional": {"encoding": "rope", "rope_base": 500.0, "rope_scaling": 4.0}}, "llama"),
])
def test_each_llama_cpp_architecture_runs_in_llama_cpp(llama_cpp, tmp_path, model, architecture):
    """Qwen2's Q/K/V biases, Qwen3's Q/K norms (neither permutes Q/K rows), Llama's
    optional biases with an untied head and a linear RoPE factor (rope.scaling.factor,
    which llama.cpp reads): eager's logits in transformers (unscaled files) and in llama.cpp;
    the file imports back to the same model (the spec may spell the FFN size otherwise)."""
    from dataclasses import replace

    from light_llm.compiler.pipeline import lower_spec
    from light_llm.import_gguf import import_gguf

    folder = model_folder(tmp_path / "run", merged(LLAMA_STYLE, {"init_std": 0.2, **model}))
    result = export_gguf(folder, tmp_path / "gguf")
    assert GGUFFile(tmp_path / "gguf" / "model.gguf").architecture == architecture
    llama_checks = [check for check in result.parity.checks if check.name.startswith("llama.cpp: ")]
    assert len(llama_checks) == 5 and all(check.passed for check in llama_checks)
    assert max(check.max_abs_error for check in llama_checks) < 1e-3

    import_gguf(tmp_path / "gguf" / "model.gguf", tmp_path / "back", verify=False)
    again = load_model_folder(tmp_path / "back")
    assert replace(lower_spec(again.spec), init_std=0.2) == lower_spec(folder.spec)  # GGUF holds no init std
    ours, theirs = folder.build().state_dict(), again.build().state_dict()
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[name], theirs[name]) for name in ours)


def save_hf_llama(path: Path) -> None:
    from light_llm.tokenizer import byte_tokenizer

    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=258, hidden_size=64, intermediate_size=176, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                                      rope_theta=500.0, tie_word_embeddings=False, initializer_range=0.2)
    transformers.AutoModelForCausalLM.from_config(config).save_pretrained(path)
    transformers.PreTrainedTokenizerFast(tokenizer_object=byte_tokenizer(), eos_token="<|endoftext|>",
                                         pad_token="<|pad|>").save_pretrained(path)


def test_an_imported_hugging_face_llama_runs_in_llama_cpp_and_imports_back(llama_cpp, tmp_path):
    save_hf_llama(tmp_path / "hf")
    assert cli("import-hf", tmp_path / "hf", "--out", tmp_path / "run").exit_code == 0
    folder = load_model_folder(tmp_path / "run")
    result = export_gguf(folder, tmp_path / "gguf")
    assert result.parity.passed and not GGUFFile(tmp_path / "gguf" / "model.gguf").get("tokenizer.ggml.add_bos_token")
    assert_llama_cpp_greedy_equals_eager(tmp_path / "gguf" / "model.gguf", folder, "Hello, world! 123", 20)

    back = cli("import-hf", tmp_path / "gguf" / "model.gguf", "--out", tmp_path / "back")
    assert back.exit_code == 0, back.output
    again = load_model_folder(tmp_path / "back")
    mine, imported = folder.spec.model.model_dump(), again.spec.model.model_dump()
    # the initialisation std is a training setting no GGUF key holds: the import's default
    assert (mine.pop("init_std"), imported.pop("init_std")) == (0.2, 0.02)
    assert imported == mine
    ours, theirs = folder.build().state_dict(), again.build().state_dict()
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[name], theirs[name]) for name in ours)


def test_a_bpe_tokenizer_is_written_as_llama_cpp_reads_it(llama_cpp, tmp_path):
    """light_llm's own trained BPE tokenizer: llama.cpp's tokens on real text equal
    tokenizer.json's (the export checks it too), and the file imports back."""
    from light_llm.evaluate.text import builtin_text
    from light_llm.model_folder import save_model_folder
    from light_llm.tokenizer import train_bpe_tokenizer

    tokenizer = train_bpe_tokenizer([builtin_text()], 400)
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    tiny = model_folder(tmp_path / "random", merged(LLAMA_STYLE, {"vocab_size": 400}))
    save_model_folder(tmp_path / "run", tiny.spec, tiny.build(), tmp_path / "tokenizer.json")
    result = export_gguf(load_model_folder(tmp_path / "run"), tmp_path / "gguf", gguf_type="q8_0")
    assert any(check.name == "llama.cpp: tokenizer on the built-in text" and check.passed
               for check in result.parity.plain_checks)
    llama = LlamaCpp(tmp_path / "gguf" / "model.gguf", 64)
    try:
        text = "The quick brown fox, 42 times: naïve café!<|endoftext|> again"
        assert llama.tokenize(text) == tokenizer.encode(text).ids
    finally:
        llama.close()


@pytest.mark.parametrize("model,named", [
    ({"attention": {"variant": "complex", "num_heads": 2}, "positional": {"encoding": "alibi"}},
     ["model.attention.variant='complex'", "model.positional.encoding='alibi'"]),
    ({"attention": {"num_heads": 2, "mask_type": "sliding_window", "window_size": 8}},
     ["model.attention.mask_type='sliding_window'"]),
    ({"norm": {"type": "layernorm"}, "ffn": {"variant": "geglu"}},
     ["model.norm.type='layernorm'", "model.ffn.variant='geglu'"]),
    ({"positional": {"encoding": "rope", "rope_scaling": 2.0}, "norm": {"placement": "post"}},
     ["model.norm.placement='post'"]),  # a linear RoPE factor is written (rope.scaling.factor)
    ({"attention": {"num_heads": 2, "head_dim": 32}}, ["model.attention.head_dim=32"]),
])
def test_a_spec_no_llama_cpp_architecture_expresses_is_one_line_and_writes_nothing(tmp_path, model, named):
    model_folder(tmp_path / "run", merged({"attention": {"num_heads": 2}}, model))
    result = cli("export", tmp_path / "run", "--gguf", "--out", tmp_path / "gguf")
    assert result.exit_code == 1
    line = result.output.strip()
    assert "\n" not in line and "Traceback" not in line
    assert line.startswith(f"error: --gguf: none of the {len(ARCHITECTURES)} llama.cpp architectures light_llm "
                           "writes reproduces this model; the closest, llama, cannot express: ")
    assert all(f"{option} (needs " in line for option in named), line
    assert not (tmp_path / "gguf").exists()


def test_an_unknown_gguf_type_is_one_line_and_writes_nothing(tmp_path):
    model_folder(tmp_path / "run", LLAMA_STYLE)
    result = cli("export", tmp_path / "run", "--onnx", "--gguf", "--gguf-type", "q3_k", "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert result.output.strip() == ("error: --gguf-type q3_k: not a GGUF type light_llm writes; allowed: f32, f16, "
                                     "bf16, q8_0, q5_1, q5_0, q4_1, q4_0")
    assert not (tmp_path / "out").exists()


def test_a_tokenizer_llama_cpp_cannot_read_is_one_line_and_writes_nothing(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    from light_llm.model_folder import save_model_folder

    word_level = Tokenizer(models.WordLevel({f"w{i}": i for i in range(258)}, unk_token="w0"))
    word_level.pre_tokenizer = pre_tokenizers.Whitespace()
    word_level.save(str(tmp_path / "tokenizer.json"))
    tiny = model_folder(tmp_path / "random", LLAMA_STYLE)
    save_model_folder(tmp_path / "run", tiny.spec, tiny.build(), tmp_path / "tokenizer.json")
    result = cli("export", tmp_path / "run", "--gguf", "--out", tmp_path / "gguf")
    assert result.exit_code == 1
    assert result.output.strip() == ("error: --gguf: the tokenizer (WordLevel model, no decoder) is not byte-level "
                                     "BPE; GGUF export writes byte-level BPE tokenizers only")
    assert not (tmp_path / "gguf").exists()


@pytest.mark.parametrize("name", ["gpt-2", "smollm", "llama-bpe", "qwen2", "llama3", "starcoder"])
def test_each_pre_tokenizer_is_written_under_a_name_llama_cpp_splits_alike(name):
    """The name found for a tokenizer splits text as it does (the import's table read backwards)."""
    from tokenizers import Tokenizer, models

    from light_llm.interop.gguf import pre_tokenizers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.pre_tokenizer(name)
    if (normalizer := pre_tokenizers.normalizer(name)) is not None:
        tokenizer.normalizer = normalizer
    written = pre_tokenizers.name_of(tokenizer)
    assert written in pre_tokenizers.WRITTEN
    assert pre_tokenizers.SPLITS[written] == pre_tokenizers.SPLITS[name]
    assert pre_tokenizers.normalizer(written).__class__ == pre_tokenizers.normalizer(name).__class__
