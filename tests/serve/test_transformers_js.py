"""transformers.js (@huggingface/transformers) in Node loads an export folder with no file
moved (onnx/model.onnx is a hard link to model.onnx) and generates the same greedy tokens
as light_llm.runtime."""

from __future__ import annotations

import json
import os
import subprocess

from light_llm.runtime import generate_ids, load_export

PROMPT = "def café(x):\n    return"  # the é is two bytes: the tokenizers must agree


def test_export_folder_has_the_transformers_js_layout(serve_export) -> None:
    assert os.path.samefile(serve_export / "onnx" / "model.onnx", serve_export / "model.onnx")
    generation = json.loads((serve_export / "generation_config.json").read_text())
    manifest = json.loads((serve_export / "light_llm.json").read_text())
    assert generation["eos_token_id"] == manifest["special_tokens"]["eos_id"]
    assert generation["max_length"] == manifest["geometry"]["max_seq_len"]


def test_transformers_js_greedy_tokens_equal_python(web_packages, serve_export) -> None:
    done = subprocess.run(["node", "transformers-node.mjs", str(serve_export), "--prompt", PROMPT,
                           "--max-new-tokens", "40", "--json"],
                          cwd=web_packages, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    model = load_export(serve_export)
    expected = generate_ids(model.run, model.geometry, [model.encode(PROMPT)], max_new_tokens=40,
                            eos_id=model.eos_id, pad_id=model.pad_id or 0)[0]
    assert result["ids"] == expected
    assert result["text"] == model.decode(expected)


def test_a_folder_without_config_json_is_refused_in_one_line(web_packages, serve_export, tmp_path) -> None:
    """Specs that map onto no Hugging Face architecture (alibi, complex attention, ...) get
    no config.json; transformers.js cannot load them, and the script says so."""
    import shutil

    folder = tmp_path / "export"
    shutil.copytree(serve_export, folder, ignore=shutil.ignore_patterns("config.json"))
    done = subprocess.run(["node", "transformers-node.mjs", str(folder), "--prompt", "hi"],
                          cwd=web_packages, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: {folder} has no config.json: transformers.js loads only exports whose spec maps onto a "
        "Hugging Face architecture (docs/serving.md#transformersjs); run this one with "
        "examples/node/generate.mjs (onnxruntime-node)"]
