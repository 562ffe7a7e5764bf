"""The ONNX export folder: its files, light_llm.json, the ONNX metadata, and the files
left out (with the reason) where a model cannot use them."""

from __future__ import annotations

import json

import onnx

from light_llm import __version__
from light_llm.exports.folder import sha256


def manifest(folder) -> dict:
    return json.loads((folder / "light_llm.json").read_text())


def test_llama_style_folder_has_every_interop_file(llama_export):
    run, out = llama_export
    names = {item.name for item in out.iterdir()}
    assert names == {"model.onnx", "genai_config.json", "tokenizer.json", "tokenizer_config.json",
                     "config.json", "generation_config.json", "light_llm.json", "onnx"}
    assert (out / "onnx" / "model.onnx").samefile(out / "model.onnx")  # transformers.js's path, one file
    data = manifest(out)
    assert data["spec"] == json.loads((run / "spec.resolved.json").read_text())
    assert data["versions"]["light_llm"] == __version__ and data["opset"] == 18
    assert data["parity"]["passed"] and data["parity"]["mode"] == "fp32"
    assert data["sha256"]["model.onnx"] == sha256(out / "model.onnx")
    assert data["inputs"][:3] == ["input_ids", "attention_mask", "position_ids"]
    assert json.loads((out / "config.json").read_text())["model_type"] == "llama"
    genai = json.loads((out / "genai_config.json").read_text())
    assert genai["search"]["past_present_share_buffer"] is False
    assert genai["model"]["decoder"]["num_key_value_heads"] == data["geometry"]["num_kv_heads"]
    assert genai["model"]["eos_token_id"] == data["special_tokens"]["eos_id"] == 256


def test_onnx_metadata_holds_resolved_spec_and_version(llama_export):
    run, out = llama_export
    props = {p.key: p.value for p in onnx.load(out / "model.onnx", load_external_data=False).metadata_props}
    assert props["light_llm.version"] == __version__
    assert json.loads(props["light_llm.spec"]) == json.loads((run / "spec.resolved.json").read_text())


def test_alibi_graph_has_no_position_ids_and_says_why(sliding_export):
    _, out = sliding_export
    data = manifest(out)
    assert "position_ids" not in data["inputs"]
    assert "ALiBi" in data["notes"]["position_ids"]
    assert "position_ids" not in json.loads((out / "genai_config.json").read_text())["model"]["decoder"]["inputs"]
    assert data["hf_model_type"] is None and not (out / "config.json").exists()  # ALiBi: no HF match


def test_bidirectional_export_has_no_cache_and_no_genai_config(bidirectional_export):
    _, out = bidirectional_export
    data = manifest(out)
    assert data["inputs"] == ["input_ids", "attention_mask", "position_ids"] and data["outputs"] == ["logits"]
    assert not (out / "genai_config.json").exists() and "bidirectional" in data["genai_config"]
    assert not (out / "config.json").exists()  # complex attention maps onto no HF architecture
    assert data["parity"]["cached"] is False and data["parity"]["passed"]


def test_export_folder_is_readable_by_everyone(llama_export):
    _, out = llama_export
    assert out.stat().st_mode & 0o777 == 0o755  # staged with mkdtemp, which makes 0700
    assert {item.stat().st_mode & 0o777 for item in out.rglob("*") if item.is_file()} == {0o644}
    assert {item.stat().st_mode & 0o777 for item in out.rglob("*") if item.is_dir()} == {0o755}  # onnx/


def test_onnxruntime_fuses_every_rmsnorm(llama_export, tmp_path):
    """RMSNorm is written as x / sqrt(mean(x²) + eps) · w, the pattern onnxruntime fuses
    into one SimplifiedLayerNormalization node (x · rsqrt(…) is left as six nodes)."""
    import onnxruntime as ort

    run, out = llama_export
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    ort.InferenceSession(str(out / "model.onnx"), options, providers=["CPUExecutionProvider"])
    ops = [node.op_type for node in onnx.load(tmp_path / "optimized.onnx").graph.node]
    spec = json.loads((run / "spec.resolved.json").read_text())["model"]
    norms = 2 * spec["num_layers"] + 1  # pre-norm: two per block, one final
    assert ops.count("SimplifiedLayerNormalization") + ops.count("SkipSimplifiedLayerNormalization") == norms
