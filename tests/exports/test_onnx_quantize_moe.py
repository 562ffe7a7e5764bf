"""int4/int8 experts of the fused form: onnxruntime's MoE node becomes QMoE
(exports/quantize_moe.py), computes the dequantized experts, and the export passes the
quantized gate and decodes with the KV cache."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from torch_targets_matrix import ROWS, merged, model_folder

from light_llm.exports.onnx import export_onnx
from light_llm.exports.quantize import QuantizeOptions, quantize
from light_llm.exports.quantize_blocks import quantize_rows
from light_llm.exports.quantize_moe import moe_block_size

EXPERTS, TOP_K, TOKENS = 4, 2, 6
ACTIVATION = dict(activation_type="swiglu", swiglu_fusion=1, activation_alpha=1.702, activation_beta=1.0,
                  swiglu_limit=0.5)  # gpt-oss's clamped SwiGLU, its limit low enough to act


def _moe_graph(path: Path, d_model: int, hidden: int) -> dict[str, np.ndarray]:
    """A lone fp32 MoE node as the fused lowering writes it (biases included); its weights."""
    rng = np.random.default_rng(0)
    weights = {"gate_up": rng.standard_normal((EXPERTS, 2 * hidden, d_model)).astype(np.float32) * 0.1,
               "gate_up_bias": rng.standard_normal((EXPERTS, 2 * hidden)).astype(np.float32) * 0.1,
               "down": rng.standard_normal((EXPERTS, d_model, hidden)).astype(np.float32) * 0.1,
               "down_bias": rng.standard_normal((EXPERTS, d_model)).astype(np.float32) * 0.1}
    node = helper.make_node("MoE", ["x", "router", "gate_up", "gate_up_bias", "down", "down_bias"], ["y"],
                            domain="com.microsoft", k=TOP_K, normalize_routing_weights=1, **ACTIVATION)
    graph = helper.make_graph(
        [node], "moe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, TOKENS, d_model]),
         helper.make_tensor_value_info("router", TensorProto.FLOAT, [TOKENS, EXPERTS])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(array, name) for name, array in weights.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21),
                                                      helper.make_opsetid("com.microsoft", 1)]), path)
    return weights


def _run(path: Path, d_model: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    feeds = {"x": rng.standard_normal((1, TOKENS, d_model)).astype(np.float32),
             "router": rng.standard_normal((TOKENS, EXPERTS)).astype(np.float32)}
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)[0]


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("method", ["symmetric", "asymmetric"])
def test_qmoe_computes_the_dequantized_experts(tmp_path, bits, method):
    """As written (accuracy level 4: int8 activations) within 2% of the experts'
    dequantized weights; int4 at level 0 (fp32 activations) equal to them."""
    d_model, hidden = 64, 32
    weights = _moe_graph(tmp_path / "moe.onnx", d_model, hidden)
    summary = quantize(tmp_path / "moe.onnx", tmp_path / "qmoe.onnx",
                       QuantizeOptions(f"int{bits}", block_size=32, method=method))
    model = onnx.load(tmp_path / "qmoe.onnx")
    (node,) = model.graph.node
    assert node.op_type == "QMoE" and helper.get_node_attr_value(node, "expert_weight_bits") == bits
    assert helper.get_node_attr_value(node, "block_size") == 32
    assert not {"gate_up", "down"} & {tensor.name for tensor in model.graph.initializer}
    assert summary.weights == {"gate_up": f"int{bits} {method} QMoE block 32",
                               "down": f"int{bits} {method} QMoE block 32"}

    for name in ("gate_up", "down"):  # the fp32 node again, now with the weights QMoE computes with
        weights[name] = np.stack([quantize_rows(expert, bits, 32, method).dequantized() for expert in weights[name]])
    _moe_graph_with(tmp_path / "dequantized.onnx", weights, d_model, hidden)
    expected = _run(tmp_path / "dequantized.onnx", d_model)
    quantized = _run(tmp_path / "qmoe.onnx", d_model)
    assert np.abs(quantized - expected).max() <= 2e-2 * np.abs(expected).max()
    if bits == 4:  # (block-wise int8 experts have no fp32-activation kernel on CPU)
        for attribute in node.attribute:
            if attribute.name == "accuracy_level":
                attribute.i = 0
        onnx.save(model, tmp_path / "qmoe-fp32-activations.onnx")
        exact = _run(tmp_path / "qmoe-fp32-activations.onnx", d_model)
        assert np.abs(exact - expected).max() <= 1e-5 * np.abs(expected).max()
    unquantized = _run(tmp_path / "moe.onnx", d_model)
    assert np.abs(quantized - unquantized).max() > 1e-5  # the codes, not the fp32 weights, were read


def _moe_graph_with(path: Path, weights: dict[str, np.ndarray], d_model: int, hidden: int) -> None:
    _moe_graph(path, d_model, hidden)
    model = onnx.load(path)
    del model.graph.initializer[:]
    model.graph.initializer.extend(numpy_helper.from_array(array, name) for name, array in weights.items())
    onnx.save(model, path)


def test_a_hidden_size_no_block_divides_keeps_the_fp32_node_and_says_why(tmp_path):
    _moe_graph(tmp_path / "moe.onnx", 32, 88)  # 88 = 8·11: no power of two from 16 divides it
    summary = quantize(tmp_path / "moe.onnx", tmp_path / "out.onnx", QuantizeOptions("int4"))
    assert [node.op_type for node in onnx.load(tmp_path / "out.onnx").graph.node] == ["MoE"]
    assert "must divide d_model 32 and the expert hidden size 88" in summary.weights["gate_up"]


@pytest.mark.parametrize(("d_model", "hidden", "wanted", "block"), [
    (64, 64, 64, 64), (64, 48, 32, 16), (32, 88, 32, None), (128, 96, 256, 32)])
def test_the_block_size_divides_both_sizes(d_model, hidden, wanted, block):
    assert moe_block_size(d_model, hidden, wanted) == block


MOE_ROW = merged(ROWS["gqa-rope-moe-swiglu-bias-shared-gated-first-dense"],
                 {"attention": {"head_dim": 16}, "init_std": 0.02, "ffn": {"moe": {"expansion_factor": 2.0}}})
CLAMPED = {"ffn": {"variant": "clamped_swiglu", "swiglu_alpha": 1.702, "swiglu_limit": 0.5}}


@pytest.mark.parametrize(("precision", "model"), [("int4", MOE_ROW), ("int8", merged(MOE_ROW, CLAMPED))],
                         ids=["int4-swiglu", "int8-clamped-swiglu"])
def test_quantized_fused_export_runs_qmoe(tmp_path, precision, model):
    folder = model_folder(tmp_path / "run", model)
    export_onnx(folder, tmp_path / "onnx", quantize=precision)
    ops = Counter(node.op_type for node in onnx.load(tmp_path / "onnx" / "model.onnx").graph.node)
    assert ops["QMoE"] == 1 and ops["MoE"] == 0  # the one sparse layer (the first is dense)
    manifest = json.loads((tmp_path / "onnx" / "light_llm.json").read_text())
    experts = {name: choice for name, choice in manifest["quantize_weights"].items() if ".experts." in name}
    assert manifest["quantize_method"] == "gptq"  # the default: experts take its scale rule, uncalibrated
    assert experts == {f"blocks.1.ffn.experts.{name}": f"{precision} asymmetric QMoE block 32"
                       for name in ("gate_up", "down")}
    parity = manifest["parity"]
    assert parity["mode"] == "quantized" and parity["passed"] and parity["greedy_tokens"] == 32
    assert parity["cache_checks"][0]["passed"] and all(check["passed"] for check in parity["text_checks"])


def test_a_fused_export_whose_experts_no_block_divides_keeps_the_moe_node_and_notes_it(tmp_path):
    model = merged(ROWS["gqa-rope-moe-swiglu-bias-shared-gated-first-dense"], {"attention": {"head_dim": 16}})
    folder = model_folder(tmp_path / "run", model)  # d_model 32: experts of hidden 88
    result = export_onnx(folder, tmp_path / "onnx", quantize="int4")
    ops = Counter(node.op_type for node in onnx.load(tmp_path / "onnx" / "model.onnx").graph.node)
    assert ops["MoE"] == 1 and ops["QMoE"] == 0 and result.parity.passed
    assert any("blocks.1.ffn.experts.gate_up kept fp32 (MoE node)" in note and "hidden size 88" in note
               for note in result.notes)
