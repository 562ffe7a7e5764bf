"""A model folder's chat template and end-of-turn tokens (tokenizer_config.json,
generation_config.json: what import-hf and the GGUF import write) reach every export
folder, and every runtime stops at each of several end tokens: light_llm.runtime, eager
PyTorch and onnxruntime-genai (genai_config.json's eos_token_id as a list). A model of our
own (no such files) keeps the folder it always had."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from torch_targets_matrix import ROWS, model_folder  # noqa: E402

from light_llm.exports.hf import export_hf
from light_llm.exports.onnx import export_onnx
from light_llm.exports.torchscript import export_torchscript
from light_llm.model_folder import load_model_folder
from light_llm.runtime import generate_ids, load_export
from light_llm.generation.eager import load_eager

CHATML = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}{{ eos_token }}\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
PROMPT = [72, 101, 108, 108, 111, 32, 119, 111]  # "Hello wo" in byte ids
EOS = 256  # the byte tokenizer's <|endoftext|>


@pytest.fixture(scope="module")
def chat_model(tmp_path_factory) -> tuple[Path, int, list[int]]:
    """A tiny model folder whose generation_config.json names two end tokens: <|endoftext|>
    and a token its greedy continuation of PROMPT reaches after a few steps. Returns the
    folder, that token and the continuation up to it."""
    root = tmp_path_factory.mktemp("chat")
    folder = model_folder(root / "model", ROWS["mha-rope-scaled-swiglu-rms-pre-tied"]).path
    eager = load_eager(folder, compile="off")
    free = generate_ids(eager.run, eager.geometry, [PROMPT], max_new_tokens=16)[0]
    step = next(index for index, token in enumerate(free) if index >= 3 and token not in free[:index])
    (folder / "generation_config.json").write_text(json.dumps({"eos_token_id": [EOS, free[step]]}))
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": CHATML, "eos_token": "<|endoftext|>"}))
    return folder, free[step], free[:step + 1]


def test_every_runtime_stops_at_the_second_end_token(chat_model, tmp_path):
    folder, end, expected = chat_model
    eager = load_eager(folder, compile="off")
    assert eager.stop_ids == (EOS, end)
    assert generate_ids(eager.run, eager.geometry, [PROMPT], max_new_tokens=16, eos_id=eager.stop_ids) == [expected]

    export_onnx(load_model_folder(folder), tmp_path / "onnx")
    onnx = load_export(tmp_path / "onnx")
    assert onnx.stop_ids == (EOS, end)
    assert generate_ids(onnx.run, onnx.geometry, [PROMPT], max_new_tokens=16, eos_id=onnx.stop_ids) == [expected]
    genai = json.loads((tmp_path / "onnx" / "genai_config.json").read_text())["model"]
    assert genai["eos_token_id"] == [EOS, end]

    pytest.importorskip("onnxruntime_genai")
    from test_onnx_genai import genai_greedy

    assert genai_greedy(tmp_path / "onnx", PROMPT, 16) == expected


@pytest.mark.parametrize("target", ["onnx", "torchscript", "hf"])
def test_export_folders_carry_the_chat_files(chat_model, tmp_path, target):
    folder, end, _ = chat_model
    export = {"onnx": export_onnx, "torchscript": export_torchscript, "hf": export_hf}[target]
    export(load_model_folder(folder), tmp_path / target)
    out = tmp_path / target
    assert (out / "chat_template.jinja").read_text() == CHATML
    assert json.loads((out / "tokenizer_config.json").read_text())["chat_template"] == CHATML
    assert json.loads((out / "generation_config.json").read_text())["eos_token_id"] == [EOS, end]
    assert json.loads((out / "light_llm.json").read_text())["special_tokens"]["end_ids"] == [EOS, end]


def test_a_model_of_our_own_has_no_chat_files(tmp_path):
    folder = model_folder(tmp_path / "model", ROWS["mha-rope-scaled-swiglu-rms-pre-tied"])
    export_onnx(folder, tmp_path / "onnx")
    out = tmp_path / "onnx"
    assert not (out / "chat_template.jinja").exists()
    assert "chat_template" not in json.loads((out / "tokenizer_config.json").read_text())
    assert json.loads((out / "genai_config.json").read_text())["model"]["eos_token_id"] == EOS
    assert json.loads((out / "generation_config.json").read_text())["eos_token_id"] == EOS
