"""int8 (dynamic) and int4 (MatMulNBits) exports: quantized ops in the graph, verified
against eager and reported by top-1 agreement and logit error."""

from __future__ import annotations

import json
from collections import Counter

import onnx
import pytest
from onnx_fixtures import LLAMA, exported
from torch_targets_matrix import merged

QUANTIZED_OPS = {"int8": "MatMulInteger", "int4": "MatMulNBits"}
# The default init (std 0.02) keeps logits at the scale of a trained small model; the
# matrix's std 0.2 makes near-random logits whose argmax any rounding flips.
MODEL = merged(LLAMA, {"init_std": 0.02})


@pytest.mark.parametrize("method", ["int8", "int4"])
def test_quantized_export_is_verified_and_reported(tmp_path, method):
    _, out = exported(tmp_path, MODEL, quantize=method)
    ops = Counter(node.op_type for node in onnx.load(out / "model.onnx").graph.node)
    assert ops[QUANTIZED_OPS[method]] >= 2 * 4  # packed qkv, o, packed gate|up, down per layer
    data = json.loads((out / "light_llm.json").read_text())
    parity = data["parity"]
    assert data["quantize"] == method and parity["mode"] == "quantized" and parity["passed"]
    assert 0.0 < parity["max_abs_error"] < 0.1  # quantization changes logits, a little
    assert parity["top1_agreement"] >= 0.9 and parity["greedy_tokens"] == 32
