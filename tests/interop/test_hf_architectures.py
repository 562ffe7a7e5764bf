"""One object per Hugging Face architecture: found from the files of interop/hf/, the
import's supported types derive from them, and a config.json is checked field by field
before use, so that a bad one is one clear line naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from light_llm.import_hf import HFImportError, open_weights, read_hf_config, supported
from light_llm.interop import hf
from light_llm.interop.hf import HFConfigError, architectures, model_section_from_hf_config
from light_llm.interop.hf.llama import Llama

LLAMA = {
    "model_type": "llama", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 88,
    "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 16,
}


def test_each_file_of_the_package_is_one_architecture():
    files = {path.stem for path in Path(hf.__file__).parent.glob("*.py")} - {"__init__", "base"}
    assert {type(entry).__module__.rsplit(".", 1)[-1] for entry in architectures().values()} == files
    assert set(architectures()) == {"llama", "mistral", "gpt2", "gemma", "gemma2", "gemma3_text", "ministral", "phi3",
                                    "qwen2", "qwen3", "gpt_neox", "phi", "olmo2", "granite", "smollm3",
                                    "qwen3_moe", "qwen2_moe", "olmoe", "mixtral", "gpt_oss"}
    assert supported() == tuple(architectures())


def test_a_new_architecture_object_is_importable_at_once():
    class Tiny(Llama):
        model_type = "tiny_llama"

    architectures()["tiny_llama"] = Tiny()
    try:
        assert "tiny_llama" in supported()
        section = model_section_from_hf_config({**LLAMA, "model_type": "tiny_llama"})
        assert section["d_model"] == 32 and section["ffn"]["expansion_factor"] == 2.75
    finally:
        architectures().pop("tiny_llama")


@pytest.mark.parametrize("change, words", [
    ({"hidden_size": "thirty-two"}, "hidden_size: got 'thirty-two'; Input should be a valid integer"),
    ({"num_hidden_layers": 0}, "num_hidden_layers: got 0; Input should be greater than 0"),
    ({"rms_norm_eps": [1e-6]}, "rms_norm_eps: got [1e-06]"),
    ({"vocab_size": None}, "vocab_size: got None"),
    ({"tie_word_embeddings": "yes"}, "tie_word_embeddings: got 'yes'; Input should be a valid boolean"),
])
def test_bad_fields_are_named(change, words):
    with pytest.raises(HFConfigError) as caught:
        model_section_from_hf_config({**LLAMA, **change})
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_missing_fields_are_named():
    config = dict(LLAMA)
    del config["intermediate_size"]
    with pytest.raises(HFConfigError, match="llama config: intermediate_size: missing"):
        model_section_from_hf_config(config)


@pytest.mark.parametrize("content, words", [
    (b"[1, 2, 3]", "expected a JSON object, got a list"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not a text file"),
    (b"{\"model_type\": ", "not valid JSON"),
    (b"{\"model_type\": [\"llama\"]}", "model_type ['llama'] (no architectures listed) cannot be imported"),
])
def test_unreadable_config_json_is_one_line(tmp_path, content, words):
    (tmp_path / "config.json").write_bytes(content)
    with pytest.raises(HFImportError) as caught:
        read_hf_config(tmp_path)
    assert words in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("index, words", [
    ("[]", "non-empty 'weight_map'"),
    ('{"weight_map": {}}', "non-empty 'weight_map'"),
    ('{"weight_map": {"a": "../secret.safetensors"}}', "allowed: a file name in"),
    ('{"weight_map": {"a": 3}}', "weight_map names 3"),
    ('{"weight_map": {"a": "shard-1.safetensors"}}', "names shard-1.safetensors, which is not in"),
    ("not json", "not valid JSON"),
])
def test_broken_safetensors_index_is_one_line(tmp_path, index, words):
    (tmp_path / "model.safetensors.index.json").write_text(index)
    with pytest.raises(HFImportError) as caught:
        open_weights(tmp_path)
    assert words in str(caught.value) and "\n" not in str(caught.value)



def test_the_phi3_example_spec_maps_onto_phi3():
    from light_llm.compiler.pipeline import lower_spec
    from light_llm.schemas.load import load_spec

    example = Path(__file__).parents[2] / "examples" / "specs" / "phi3.yaml"
    ir = lower_spec(load_spec(example))
    assert architectures()["phi3"].blockers(ir) == []
    config = architectures()["phi3"].config(ir)
    assert config["sliding_window"] == 128 and config["num_attention_heads"] == 8


@pytest.mark.parametrize("change, words", [
    ({"use_sliding_window": True, "sliding_window": 4}, "use_sliding_window: true has no light_llm mapping"),
    ({"no_rope_layers": [1, 0]}, "no_rope_layers: got [1, 0]; allowed: 3 entries"),
    ({"no_rope_layers": [1, 2, 1]}, "each 0 or 1"),
])
def test_smollm3_configs_light_llm_cannot_express_are_refused(change, words):
    with pytest.raises(HFConfigError, match="smollm3 config") as caught:
        model_section_from_hf_config({**LLAMA, "model_type": "smollm3", "num_hidden_layers": 3, **change})
    assert words in str(caught.value)


def test_smollm3_nope_layers_become_the_shortest_layer_pattern():
    section = model_section_from_hf_config({**LLAMA, "model_type": "smollm3", "num_hidden_layers": 6})
    assert section["positional"]["layer_pattern"] == ["rope", "rope", "rope", "none"]  # interval 4
    every = model_section_from_hf_config({**LLAMA, "model_type": "smollm3", "no_rope_layers": [1] * 2})
    assert "layer_pattern" not in every["positional"]


def test_granite_reads_an_absent_attention_multiplier_as_one():
    section = model_section_from_hf_config({**LLAMA, "model_type": "granite", "logits_scaling": 8})
    assert section["attention"]["scale"] == 1.0 and section["logit_divisor"] == 8
