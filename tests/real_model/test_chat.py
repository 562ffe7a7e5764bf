"""SmolLM2-135M-Instruct answers as its authors meant: its chat template (ChatML) and its
end-of-turn token `<|im_end|>` (id 2) go from the Hugging Face folder through
`lightllm import-hf` into the fp32 ONNX export, and every consumer uses them: `lightllm
serve` (a real subprocess without torch, asked by the official openai client), `lightllm
generate --chat` (a real subprocess), onnxruntime-genai reading genai_config.json, and the
Node apps (examples/node with onnxruntime-node, examples/web's transformers.js script).
A chat template that raises is refused at import with one line and no folder."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parents[1]
sys.path.insert(0, str(TESTS / "serve"))
sys.path.insert(0, str(TESTS / "exports"))
sys.path.insert(0, str(TESTS / "examples"))
from serve_helpers import running_server  # noqa: E402
from test_node_app import node_app  # noqa: E402, F401 (a fixture)


def _serve_fixtures():
    spec = importlib.util.spec_from_file_location("serve_fixtures", TESTS / "serve" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


web_packages = _serve_fixtures().web_packages  # examples/web's npm packages, installed once

QUESTION = "What is the capital of France?"
IM_END = 2
MAX_TOKENS = 48  # far more than the answer needs: stopping early is the end token's doing


def lightllm(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2] / "src"), HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-c", "from light_llm.cli.app import main; main()", *args],
                          capture_output=True, text=True, env=env, timeout=600)


def test_model_folder_keeps_the_template_and_end_tokens(smollm2_hf, smollm2_model):
    config = json.loads((smollm2_model / "tokenizer_config.json").read_text())
    assert config["chat_template"] == (smollm2_hf / "chat_template.jinja").read_text()
    assert config["eos_token"] == "<|im_end|>"
    assert json.loads((smollm2_model / "generation_config.json").read_text())["eos_token_id"] == IM_END


def test_export_folder_carries_the_chat_files(smollm2_hf, smollm2_onnx):
    template = (smollm2_hf / "chat_template.jinja").read_text()
    assert (smollm2_onnx / "chat_template.jinja").read_text() == template
    assert json.loads((smollm2_onnx / "tokenizer_config.json").read_text())["chat_template"] == template
    assert json.loads((smollm2_onnx / "generation_config.json").read_text())["eos_token_id"] == IM_END
    assert json.loads((smollm2_onnx / "genai_config.json").read_text())["model"]["eos_token_id"] == IM_END
    tokens = json.loads((smollm2_onnx / "light_llm.json").read_text())["special_tokens"]
    assert tokens["eos_id"] == IM_END and tokens["end_ids"] == [IM_END]


def test_served_chat_uses_the_template_and_stops_at_im_end(smollm2_onnx, tmp_path):
    openai = pytest.importorskip("openai")
    with running_server(smollm2_onnx, tmp_path) as url:
        client = openai.OpenAI(base_url=url, api_key="unused")
        answer = client.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": QUESTION}], max_tokens=MAX_TOKENS,
            temperature=0)
    choice = answer.choices[0]
    assert "Paris" in choice.message.content
    assert choice.finish_reason == "stop"
    assert answer.usage.completion_tokens < MAX_TOKENS
    assert "<|im_end|>" not in choice.message.content and "assistant" not in choice.message.content


def test_generate_chat_prints_the_reply_only(smollm2_onnx):
    done = lightllm("generate", str(smollm2_onnx), "--chat", QUESTION, "--max-new-tokens", str(MAX_TOKENS))
    assert done.returncode == 0, done.stderr
    reply = done.stdout.strip()
    assert "Paris" in reply and QUESTION not in reply and "<|im" not in reply
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(smollm2_onnx / "tokenizer.json"))
    assert len(tokenizer.encode(reply, add_special_tokens=False).ids) < MAX_TOKENS - 8  # stopped at <|im_end|>


def runtime_chat_ids(export: Path) -> tuple[list[int], list[int]]:
    """The prompt ids of QUESTION as a chat, and light_llm.runtime's greedy reply (its end token included)."""
    from light_llm.chat_template import load_chat_template
    from light_llm.runtime import generate_ids, load_export

    model = load_export(export)
    prompt = model.encode(load_chat_template(export).render([{"role": "user", "content": QUESTION}]))
    reply = generate_ids(model.run, model.geometry, [prompt], max_new_tokens=MAX_TOKENS, eos_id=model.stop_ids,
                         pad_id=model.pad_id)[0]
    return prompt, reply


def test_node_apps_format_the_chat_and_stop_at_the_end_token(smollm2_onnx, node_app, web_packages):
    prompt, reply = runtime_chat_ids(smollm2_onnx)
    assert reply[-1] == IM_END and len(reply) < MAX_TOKENS
    for app, script in ((node_app, "generate.mjs"), (web_packages, "transformers-node.mjs")):
        done = subprocess.run(["node", script, str(smollm2_onnx), "--chat", QUESTION, "--max-new-tokens",
                               str(MAX_TOKENS), "--json"], cwd=app, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["ids"] == reply, script
        assert "Paris" in result["text"]
        if "prompt_ids" in result:
            assert result["prompt_ids"] == prompt


def test_onnxruntime_genai_stops_at_the_end_token(smollm2_onnx):
    pytest.importorskip("onnxruntime_genai")
    from test_onnx_genai import genai_greedy
    from tokenizers import Tokenizer

    from light_llm.chat_template import load_chat_template

    prompt = load_chat_template(smollm2_onnx).render([{"role": "user", "content": QUESTION}])
    ids = Tokenizer.from_file(str(smollm2_onnx / "tokenizer.json")).encode(prompt, add_special_tokens=False).ids
    tokens = genai_greedy(smollm2_onnx, ids, MAX_TOKENS)
    assert tokens[-1] == IM_END and len(tokens) < MAX_TOKENS


@pytest.mark.parametrize("template, said", [
    ("{{ raise_exception('roles must alternate') }}", "the chat template raised: roles must alternate"),
    ("{% for message in messages %}{{ message.content }", "the chat template does not compile"),
])
def test_a_template_that_fails_refuses_the_import(smollm2_hf, tmp_path, template, said):
    source = tmp_path / "hf"
    source.mkdir()
    for item in smollm2_hf.iterdir():
        if item.name != "chat_template.jinja":
            (source / item.name).symlink_to(item)
    (source / "chat_template.jinja").write_text(template)
    done = lightllm("import-hf", str(source), "--out", str(tmp_path / "model"))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and said in lines[0] and "nothing imported" in lines[0], done.stderr
    assert not (tmp_path / "model").exists()
