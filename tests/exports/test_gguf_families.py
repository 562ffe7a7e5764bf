"""GGUF export of the Hugging Face families whose llama.cpp architecture has a graph of
their own (olmo2, phi3, gemma, gemma2, gemma3, gpt2): a random-weight transformers model of each, imported
with import-hf, is written as its own GGUF architecture, runs in llama.cpp with eager's
greedy tokens (F32), and imports back from the file to the same spec and weights.

The norm weights are perturbed before saving (transformers initialises Gemma's offsets to
zero and the others' weights to one), so a wrong 1 + w conversion or a swapped norm name
changes the tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from gguf_llama_cpp import assert_llama_cpp_greedy_equals_eager
from typer.testing import CliRunner

from light_llm.cli.app import _register_commands, app
from light_llm.exports.gguf import export_gguf
from light_llm.import_gguf import import_gguf
from light_llm.import_hf import import_hf
from light_llm.interop.gguf.architectures import UNVERIFIED_IMPORTS
from light_llm.interop.gguf.file import GGUFFile
from light_llm.model_folder import load_model_folder

transformers = pytest.importorskip("transformers")

SMALL = dict(hidden_size=64, intermediate_size=136, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=64, rope_theta=500.0)
FAMILIES = {
    "olmo2": ("Olmo2Config", dict(SMALL, tie_word_embeddings=False)),
    "phi3": ("Phi3Config", dict(SMALL, tie_word_embeddings=True)),
    "gemma": ("GemmaConfig", dict(SMALL, head_dim=16)),
    # windows on layers 0 and 2 (Gemma 2's alternation), narrower than the prompt
    "gemma2": ("Gemma2Config", dict(SMALL, num_hidden_layers=3, head_dim=16, query_pre_attn_scalar=16,
                                    sliding_window=6, attn_logit_softcapping=3.0, final_logit_softcapping=5.0)),
    # global layers 2 and 6, not llama.cpp's default (every 6th): its per-layer pattern is read; the
    # sliding layers rotate at their own base, the global ones at rope_theta scaled linearly
    "gemma3": ("Gemma3TextConfig", dict(SMALL, num_hidden_layers=7, head_dim=16, query_pre_attn_scalar=16,
                                        sliding_window=6, rope_local_base_freq=10000.0,
                                        rope_scaling={"rope_type": "linear", "factor": 2.0},
                                        layer_types=["sliding_attention"] * 2 + ["full_attention"]
                                        + ["sliding_attention"] * 3 + ["full_attention"])),
    # dropout is a training setting no GGUF key holds: none, as the import reads it
    "gpt2": ("GPT2Config", dict(n_embd=64, n_layer=2, n_head=4, n_inner=136, n_positions=64, attn_pdrop=0.0,
                                resid_pdrop=0.0, embd_pdrop=0.0, tie_word_embeddings=True)),
}


def save_family(config_class: str, config: dict, path: Path) -> None:
    from light_llm.tokenizer import byte_tokenizer

    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(
        getattr(transformers, config_class)(vocab_size=258, initializer_range=0.2, bos_token_id=256,
                                            eos_token_id=256, pad_token_id=257, **config))
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if "norm" in name:
                weight.add_(0.3 * torch.randn_like(weight))
    model.save_pretrained(path)
    transformers.PreTrainedTokenizerFast(tokenizer_object=byte_tokenizer(), eos_token="<|endoftext|>",
                                         pad_token="<|pad|>").save_pretrained(path)


@pytest.mark.parametrize("architecture", FAMILIES)
def test_a_family_runs_in_llama_cpp_as_its_own_architecture_and_imports_back(llama_cpp, tmp_path, architecture):
    config_class, config = FAMILIES[architecture]
    save_family(config_class, config, tmp_path / "hf")
    import_hf(tmp_path / "hf", tmp_path / "run")
    folder = load_model_folder(tmp_path / "run")
    result = export_gguf(folder, tmp_path / "gguf")
    gguf = tmp_path / "gguf" / "model.gguf"
    assert GGUFFile(gguf).architecture == architecture
    llama_checks = [check for check in result.parity.checks if check.name.startswith("llama.cpp: ")]
    assert llama_checks and all(check.passed for check in llama_checks)
    assert_llama_cpp_greedy_equals_eager(gguf, folder, "Hello, world! 123", 20)

    imported = import_gguf(gguf, tmp_path / "back")  # verified by transformers where its reader rebuilds the file
    if architecture in UNVERIFIED_IMPORTS:
        assert imported.parity is None and f"not verified against transformers ({UNVERIFIED_IMPORTS[architecture]})" \
            in imported.notes
    else:
        assert imported.parity.passed
    again = load_model_folder(tmp_path / "back")
    mine, back = folder.spec.model.model_dump(), again.spec.model.model_dump()
    mine.pop("init_std"), back.pop("init_std")  # a training setting no GGUF key holds
    assert back == mine
    ours, theirs = folder.build().state_dict(), again.build().state_dict()
    assert ours.keys() == theirs.keys()
    assert all(torch.allclose(ours[name], theirs[name], rtol=0, atol=1e-6) for name in ours)


@pytest.mark.parametrize("architecture,broken", [
    ("gemma", dict(norm_offset=0.0)),  # norm weights as Hugging Face stores them (w, not llama.cpp's 1 + w)
    ("gemma3", dict(sliding_pattern=False)),  # no attention.sliding_window_pattern: llama.cpp's every 6th global
])
def test_a_file_llama_cpp_reads_otherwise_is_refused_and_nothing_written(llama_cpp, tmp_path, monkeypatch,
                                                                         architecture, broken):
    """The gate can refuse: a file written without what llama.cpp's graph needs."""
    from dataclasses import replace

    from light_llm.exports.result import ParityError
    from light_llm.interop.gguf import architectures

    save_family(*FAMILIES[architecture], tmp_path / "hf")
    import_hf(tmp_path / "hf", tmp_path / "run")
    monkeypatch.setitem(architectures.ARCHITECTURES, architecture,
                        replace(architectures.ARCHITECTURES[architecture], **broken))
    with pytest.raises(ParityError, match="GGUF parity check failed, no export written: llama.cpp: "):
        export_gguf(load_model_folder(tmp_path / "run"), tmp_path / "gguf")
    assert not (tmp_path / "gguf").exists()


SCALED = {"rope_type": "linear", "factor": 2.0, "rope_theta": 500.0}


@pytest.mark.parametrize("architecture,change,named", [
    ("gemma2", dict(attn_logit_softcapping=None), "model.attention.logit_softcap=none (needs 'a cap')"),
    ("gemma2", dict(query_pre_attn_scalar=24), "model.attention.scale="),
    ("gemma2", dict(layer_types=["full_attention", "sliding_attention", "full_attention"]),
     "model.attention.layer_pattern='layers [1]' (needs 'none' or 'even layers')"),
    ("gemma3", dict(attn_logit_softcapping=3.0), "model.attention.logit_softcap=3.0 (needs none)"),
    ("gemma3", dict(query_pre_attn_scalar=24), "model.attention.scale="),
    # one RoPE for all layers, scaled: llama.cpp rotates the sliding layers unscaled
    ("gemma3", dict(rope_scaling=None, rope_parameters={"full_attention": SCALED, "sliding_attention": SCALED}),
     "model.positional.rope_scaling='on sliding layers' (needs 'global layers only')"),
])
def test_a_gemma_llama_cpps_graph_cannot_run_is_one_line_naming_the_option(tmp_path, architecture, change, named):
    config_class, config = FAMILIES[architecture]
    save_family(config_class, config | change, tmp_path / "hf")
    import_hf(tmp_path / "hf", tmp_path / "run", verify=False)
    _register_commands()
    result = CliRunner().invoke(app, ["export", str(tmp_path / "run"), "--gguf", "--out", str(tmp_path / "gguf")])
    assert result.exit_code == 1
    line = result.output.strip()
    assert "\n" not in line and f"the closest, {architecture}, cannot express: " in line and named in line, line
    assert not (tmp_path / "gguf").exists()
