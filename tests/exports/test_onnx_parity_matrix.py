"""Every option value of the models doc, exported to ONNX in both forms and verified
against eager (the pairwise matrix of torch_targets_matrix.py, plus the options only ONNX
rows need).

portable: the rows as they are, `portable=True` (standard ONNX ops only).
fused: the default form; the rows get head_dim 16 (onnxruntime's GroupQueryAttention
takes multiples of 16), so every causal row gets one GroupQueryAttention per layer; the
bidirectional row's attention falls back to standard ops, and light_llm.json says so per
layer. (The rows as they are, head_dim 8, fall back the same way: test_onnx_lowering.py.)"""

from __future__ import annotations

import json

import onnx
import pytest
from torch_targets_matrix import ROWS, merged, model_folder

from light_llm.exports.onnx import export_onnx
from light_llm.exports.onnx_lowering.options import moe_gating
from light_llm.runtime.geometry import Geometry

ONNX_ROWS = dict(ROWS) | {
    # use_flash_attn falls back to SDPA off CUDA; dropout is inactive in eval mode.
    "mha-flash-flag-dropout-learned-geglu": {
        "attention": {"variant": "mha", "num_heads": 4, "use_flash_attn": True, "dropout": 0.1},
        "positional": {"encoding": "learned"}, "ffn": {"variant": "geglu", "dropout": 0.1},
        "dropout": 0.1, "residual_scaled_init": False,
    },
    # Interleaved pairs over the whole head: rotated inside GroupQueryAttention in the fused form.
    "gqa-rope-interleaved-full": {
        "attention": {"variant": "gqa", "num_heads": 4, "num_kv_heads": 2},
        "positional": {"encoding": "rope", "rope_pairing": "interleaved"},
    },
}


def dims(value) -> list:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


FUSED_HEAD_DIM = {"attention": {"head_dim": 16}}
ROPE_ROWS = [row for row, model in ONNX_ROWS.items() if model.get("positional", {}).get("encoding") == "rope"]
FORM_ROWS = [(form, row) for form in ("fused", "portable") for row in ONNX_ROWS] + [
    ("fused-1.32", row) for row in ROPE_ROWS]  # rotary inside GroupQueryAttention (min_onnxruntime 1.32)


@pytest.mark.parametrize(("variant", "row"), FORM_ROWS, ids=[f"{row}-{variant}" for variant, row in FORM_ROWS])
def test_onnx_export_matches_eager(tmp_path, row, variant):
    form, _, min_onnxruntime = variant.partition("-")
    model = ONNX_ROWS[row] if form == "portable" else merged(ONNX_ROWS[row], FUSED_HEAD_DIM)
    folder = model_folder(tmp_path / "run", model)
    result = export_onnx(folder, tmp_path / "onnx", portable=form == "portable",
                         min_onnxruntime=min_onnxruntime or None)
    report = result.parity
    assert report.passed and report.mode == "fp32" and report.max_abs_error <= 1e-4
    geometry = Geometry.from_dict(json.loads((tmp_path / "onnx" / "light_llm.json").read_text())["geometry"])
    if geometry.cached:
        assert report.greedy_tokens == 32 and sum("decode step" in c.name for c in report.checks) >= 8
    assert any("sequence length 1" in check.name for check in report.checks)

    lowering = json.loads((tmp_path / "onnx" / "light_llm.json").read_text())["lowering"]
    expected = "fused" if form == "fused" and geometry.cached else "standard"
    assert [layer["lowering"] for layer in lowering["layers"]] == [expected] * geometry.num_layers
    assert lowering["form"] == form

    graph = onnx.load(tmp_path / "onnx" / "model.onnx").graph
    ops = [node.op_type for node in graph.node]
    assert ops.count("GroupQueryAttention") == (geometry.num_layers if expected == "fused" else 0)
    if ONNX_ROWS[row].get("ffn", {}).get("activation") == "gelu_tanh":  # FastGelu, or its formula
        assert ("FastGelu" in ops, "Tanh" in ops) == ((True, False) if form == "fused" else (False, True))
    moe = ONNX_ROWS[row].get("ffn", {}).get("moe")
    if moe is not None:  # onnxruntime's MoE node for SwiGLU experts in the fused form, else dense experts
        sparse = geometry.num_layers - moe.get("first_dense_layers", 0)
        fused = form == "fused" and moe_gating(ONNX_ROWS[row]["ffn"]["variant"]) is not None
        assert (ops.count("MoE"), ops.count("ScatterElements")) == ((sparse, 0) if fused else (0, sparse))
    domains = {node.domain for node in graph.node}
    assert domains <= {""} if form == "portable" else "com.microsoft" in domains
    inputs, outputs = {v.name: v for v in graph.input}, {v.name: v for v in graph.output}
    assert list(inputs) == geometry.input_names() and list(outputs) == geometry.output_names()
    assert dims(inputs["input_ids"]) == ["batch_size", "sequence_length"]
    assert dims(outputs["logits"]) == ["batch_size", "sequence_length", geometry.vocab_size]
    if geometry.cached:
        assert dims(inputs["attention_mask"]) == ["batch_size", "total_sequence_length"]
        kv = [geometry.num_kv_heads, geometry.head_dim]
        assert dims(inputs["past_key_values.1.value"]) == ["batch_size", kv[0], "past_sequence_length", kv[1]]
        assert dims(outputs["present.0.key"]) == ["batch_size", kv[0], "total_sequence_length", kv[1]]
