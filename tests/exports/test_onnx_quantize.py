"""int8 and int4 exports: every MatMul (LM head included) a MatMulNBits, the embedding a
GatherBlockQuantized (one quantized matrix for tied weights), verified against eager and
reported by top-1 agreement and logit error; the codes decode in onnxruntime exactly as
quantize_blocks.py says; the pass works on any graph whose weights are initializers."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx_fixtures import LLAMA, exported
from torch_targets_matrix import merged, model_folder

from light_llm.exports.onnx import export_onnx
from light_llm.exports.quantize import QuantizeOptions, quantize, quantize_in_place
from light_llm.exports.quantize_blocks import quantize_rows
from light_llm.exports.result import ExportError

# The default init (std 0.02) keeps logits at the scale of a trained small model; the
# matrix's std 0.2 makes near-random logits whose argmax any rounding flips.
MODEL = merged(LLAMA, {"init_std": 0.02})
BITS = {"int8": 8, "int4": 4}


def _weight_bytes(model: onnx.ModelProto) -> int:
    """Bytes of the model's weights: every initializer but the rotary cos/sin tables."""
    return sum(numpy_helper.to_array(tensor).nbytes for tensor in model.graph.initializer
               if not tensor.name.startswith("rotary."))


@pytest.mark.parametrize("method", ["int8", "int4"])
def test_quantized_export_quantizes_everything_and_is_reported(tmp_path, method):
    run, out = exported(tmp_path, MODEL, quantize=method)
    model = onnx.load(out / "model.onnx")
    ops = Counter(node.op_type for node in model.graph.node)
    assert ops["MatMulNBits"] == 2 * 4 + 1  # packed qkv, o, packed gate|up, down per layer + LM head
    assert ops["GatherBlockQuantized"] == 1 and _no_embedding_gather(model)
    weights = {tensor.name for tensor in model.graph.initializer if len(tensor.dims) == 2}
    weights |= {node.output[0] for node in model.graph.node if node.op_type == "Transpose" and node.input[0] in weights}
    assert not [node.name for node in model.graph.node if node.op_type == "MatMul" and node.input[1] in weights]
    tied = [node for node in model.graph.node if node.op_type == "GatherBlockQuantized"]
    lm_head = [node for node in model.graph.node if node.op_type == "MatMulNBits"][-1]
    assert tied[0].input[2] == lm_head.input[2]  # tied: one set of scales (and codes) for both
    assert {helper.get_node_attr_value(node, "bits") for node in model.graph.node
            if node.op_type in ("MatMulNBits", "GatherBlockQuantized")} == {BITS[method]}
    fp32 = sum(value.nbytes for value in _fp32_weights(run))
    bound = fp32 * (BITS[method] / 32 + 1 / 32) + 4096  # codes + one fp32 scale per 32 + norms
    assert _weight_bytes(model) <= bound
    assert (out / "model.onnx").stat().st_size <= bound + 64 * 1024  # + the graph itself
    data = json.loads((out / "light_llm.json").read_text())
    parity = data["parity"]
    assert data["quantize"] == method and parity["mode"] == "quantized" and parity["passed"]
    assert 0.0 < parity["max_abs_error"] < 0.1  # quantization changes logits, a little
    assert parity["top1_agreement"] >= 0.9 and parity["greedy_tokens"] == 32
    (text,) = parity["text_checks"]  # the quantized gate: the built-in text, 4 windows of max_seq_len
    assert text["passed"] and text["positions"] == 4 * 47 and text["top1_agreement"] >= 0.9
    assert text["perplexity_ratio"] <= parity["thresholds"]["max_perplexity_ratio"]
    assert parity["cache_checks"][0]["passed"] and parity["thresholds"]["min_top1_agreement"] in (0.5, 0.85)


def _no_embedding_gather(model: onnx.ModelProto) -> bool:
    matrices = {tensor.name for tensor in model.graph.initializer if len(tensor.dims) == 2}
    return not any(node.op_type == "Gather" and node.input[0] in matrices for node in model.graph.node)


def _fp32_weights(run: Path) -> list[np.ndarray]:
    from safetensors.numpy import load_file

    return list(load_file(run / "model.safetensors").values())


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("symmetric", [True, False])
def test_codes_decode_in_onnxruntime_as_written(bits, symmetric):
    """MatMulNBits and GatherBlockQuantized read the codes as BlockQuantized.dequantized()
    says, for a K that is not a whole number of blocks."""
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((12, 40)).astype(np.float32)
    weight = quantize_rows(rows, bits, 32, "symmetric" if symmetric else "asymmetric")
    expected = weight.dequantized()
    assert np.abs(expected - rows).max() <= np.abs(rows).max() / (2 ** (bits - 1) - 1)
    zero_points = [numpy_helper.from_array(weight.zero_points, "zero_points")] if not symmetric else []
    names = ["data", "scales"] + (["zero_points"] if not symmetric else [])
    matmul = helper.make_node("MatMulNBits", ["x"] + names, ["y"], domain="com.microsoft", K=40, N=12,
                              bits=bits, block_size=32)
    flat = helper.make_node("Reshape", ["data", "flat_shape"], ["flat"])
    gather = helper.make_node("GatherBlockQuantized", ["flat", "ids"] + names[1:], ["rows"], domain="com.microsoft",
                              bits=bits, block_size=32, gather_axis=0, quantize_axis=1)
    graph = helper.make_graph(
        [matmul, flat, gather], "codes",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 40]),
         helper.make_tensor_value_info("ids", TensorProto.INT64, [5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("rows", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(weight.data, "data"), numpy_helper.from_array(weight.scales, "scales"),
         numpy_helper.from_array(np.array([12, -1], dtype=np.int64), "flat_shape")] + zero_points,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x, ids = rng.standard_normal((3, 40)).astype(np.float32), np.array([0, 11, 3, 3, 7])
    y, gathered = session.run(None, {"x": x, "ids": ids})
    np.testing.assert_allclose(y, x @ expected.T, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gathered[:, :40], expected[ids], rtol=1e-6, atol=1e-6)


def _tiny_graph(path: Path, lm_head: str) -> dict[str, np.ndarray]:
    """input_ids → Gather(embedding) → MatMul(w) → MatMul(LM head) → logits, weights in
    external data. lm_head: "transpose" (Transpose of the embedding, as traced), "copy"
    (a separate initializer equal to embedding.T) or "own" (untied)."""
    rng = np.random.default_rng(1)
    embedding = rng.standard_normal((50, 64)).astype(np.float32) * 0.1
    weights = {"embedding": embedding, "w": rng.standard_normal((64, 64)).astype(np.float32) * 0.1}
    nodes = [helper.make_node("Gather", ["embedding", "input_ids"], ["hidden"]),
             helper.make_node("MatMul", ["hidden", "w"], ["mixed"])]
    if lm_head == "transpose":
        nodes.append(helper.make_node("Transpose", ["embedding"], ["head"], perm=[1, 0]))
    else:
        weights["head"] = embedding.T.copy() if lm_head == "copy" else rng.standard_normal((64, 50)).astype(np.float32)
    nodes.append(helper.make_node("MatMul", ["mixed", "head"], ["logits"]))
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["b", "s", 50])],
        [numpy_helper.from_array(value, name) for name, value in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    onnx.save(model, str(path), save_as_external_data=True, location="model.onnx.data", size_threshold=0)
    return weights


@pytest.mark.parametrize(("lm_head", "shared"), [("transpose", 1), ("copy", 1), ("own", 0)])
def test_any_graph_ties_and_drops_its_fp32_data(tmp_path, lm_head, shared):
    weights = _tiny_graph(tmp_path / "model.onnx", lm_head)
    reference = ort.InferenceSession(str(tmp_path / "model.onnx"))
    ids = np.array([[1, 7, 49]])
    expected = reference.run(None, {"input_ids": ids})[0]
    summary = quantize_in_place(tmp_path / "model.onnx", QuantizeOptions("int4", method="symmetric"))
    assert (summary.matmuls, summary.gathers, summary.shared) == (2, 1, shared)
    assert sorted(item.name for item in tmp_path.iterdir()) == ["model.onnx"]  # fp32 data file gone
    model = onnx.load(str(tmp_path / "model.onnx"))
    assert Counter(node.op_type for node in model.graph.node)["MatMul"] == 0
    fp32 = sum(value.nbytes for value in weights.values() if value is not weights.get("head") or lm_head == "own")
    assert _weight_bytes(model) <= fp32 * (4 / 32 + 1 / 32) + 64
    actual = ort.InferenceSession(str(tmp_path / "model.onnx")).run(None, {"input_ids": ids})[0]
    assert np.linalg.norm(actual - expected) < 0.25 * np.linalg.norm(expected)  # three 4-bit matrices (~8 % each)


def test_unknown_method_is_refused(tmp_path):
    _tiny_graph(tmp_path / "model.onnx", "own")
    with pytest.raises(ValueError, match="int3.*allowed: int8, int4"):
        quantize(tmp_path / "model.onnx", tmp_path / "q.onnx", QuantizeOptions("int3"))


def _block_sizes(model: onnx.ModelProto) -> set[int]:
    return {helper.get_node_attr_value(node, "block_size") for node in model.graph.node
            if node.op_type in ("MatMulNBits", "GatherBlockQuantized")}


def test_a_chosen_block_size_is_written_verified_and_recorded(tmp_path):
    """Blocks of 16 (d_model 32: two scales per row where the default keeps one): every
    quantized node takes them, the file grows by the extra scales, the parity gate passes
    and light_llm.json says which size was used."""
    sizes = {}
    for block_size in (None, 16):
        out = exported(tmp_path / str(block_size), MODEL, quantize="int4", quantize_block_size=block_size)[1]
        model = onnx.load(out / "model.onnx")
        manifest = json.loads((out / "light_llm.json").read_text())
        assert _block_sizes(model) == {block_size or 32} and manifest["quantize_block_size"] == (block_size or 32)
        assert manifest["parity"]["passed"] and manifest["parity"]["top1_agreement"] >= 0.9
        sizes[block_size] = _weight_bytes(model)
    assert sizes[16] > sizes[None]


@pytest.mark.parametrize(("options", "message"), [
    ({"quantize": "int4", "quantize_block_size": 48}, "block size 48: allowed: 16, 32, 64, 128, 256"),
    ({"quantize": "none", "quantize_block_size": 64}, "applies to int8 and int4 exports only"),
])
def test_a_bad_block_size_is_refused_before_anything_is_written(tmp_path, options, message):
    folder = model_folder(tmp_path / "run", MODEL)
    with pytest.raises(ExportError, match=message):
        export_onnx(folder, tmp_path / "onnx", **options)
    assert not (tmp_path / "onnx").exists()


def test_the_spec_sets_the_default_block_size(tmp_path):
    folder = model_folder(tmp_path / "run", MODEL)
    export = folder.spec.export.model_copy(update={"quantize": "int4", "quantize_block_size": 16})
    folder = dataclasses.replace(folder, spec=folder.spec.model_copy(update={"export": export}))
    export_onnx(folder, tmp_path / "onnx")
    assert _block_sizes(onnx.load(tmp_path / "onnx" / "model.onnx")) == {16}
