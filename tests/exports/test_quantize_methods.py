"""The quantize methods and the grid fit (exports/quantize_blocks.py, quantize_grid.py):
each method's round trip within its expected error on a known matrix; weights dequantized
from llama.cpp's Q8_0 / Q4_0 / Q4_1 blocks are found on their grid and written losslessly
(Q4_1 through zero points and per-block offsets, run in onnxruntime); weights moved off
the grid fall back to the method; light_llm.json records every choice."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from gguf import GGMLQuantizationType
from gguf.quants import dequantize, quantize as gguf_quantize
from onnx import TensorProto, helper, numpy_helper
from onnx_fixtures import LLAMA, exported
from test_cli_error_path import assert_one_line_error, cli  # noqa: F401  (a fixture)
from torch_targets_matrix import merged, model_folder

from light_llm.exports.quantize import QuantizeOptions, quantize_in_place
from light_llm.exports.quantize_blocks import nibbles, quantize_rows
from light_llm.exports.quantize_grid import fit_grid
from light_llm.generation.eager import load_eager
from light_llm.runtime.generator import generate_ids

GRIDS = {"q8_0": GGMLQuantizationType.Q8_0, "q4_0": GGMLQuantizationType.Q4_0, "q4_1": GGMLQuantizationType.Q4_1}


def on_grid(rows: np.ndarray, grid: str) -> np.ndarray:
    """`rows` through llama.cpp's quantizer and back (what a GGUF import holds)."""
    kind = GRIDS[grid]
    return dequantize(gguf_quantize(rows, kind), kind).reshape(rows.shape).astype(np.float32)


def known_matrix(shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.standard_normal((64, 96)) * 0.05 + shift).astype(np.float32)


@pytest.mark.parametrize(("method", "bits", "bound"), [
    ("symmetric", 4, 0.115), ("asymmetric", 4, 0.10), ("symmetric", 8, 0.008), ("asymmetric", 8, 0.006),
])
def test_each_method_round_trips_within_its_expected_error(method, bits, bound):
    """Relative RMS error on a Gaussian matrix: 4 bits about 1/10, 8 bits about 1/200."""
    rows = known_matrix()
    weight = quantize_rows(rows, bits, 32, method)
    error = np.sqrt(np.mean((weight.dequantized() - rows) ** 2)) / rows.std()
    assert error < bound
    assert error > bound / 4  # a round trip that loses nothing would be a broken test


def test_asymmetric_codes_follow_a_shifted_block_where_symmetric_ones_cannot():
    rows = known_matrix(shift=0.2)  # every block positive: symmetric codes waste half their levels
    errors = {method: np.abs(quantize_rows(rows, 4, 32, method).dequantized() - rows).mean()
              for method in ("symmetric", "asymmetric")}
    assert errors["asymmetric"] < 0.6 * errors["symmetric"]


@pytest.mark.parametrize("grid", list(GRIDS))
def test_weights_on_a_gguf_grid_are_found_and_kept_exactly(grid):
    rows = on_grid(known_matrix(), grid)
    name, weight = fit_grid(rows, 32)
    assert name == grid and weight.bits == (8 if grid == "q8_0" else 4)
    assert (weight.offsets is not None) == (grid == "q4_1")
    np.testing.assert_allclose(weight.dequantized(), rows, rtol=0, atol=1e-7)


@pytest.mark.parametrize("grid", list(GRIDS))
def test_weights_moved_off_their_grid_are_not_taken_for_it(grid):
    rows = on_grid(known_matrix(), grid)
    rows[5, 17] += 1e-4  # one weight, as one training step would move it
    assert fit_grid(rows, 32) is None
    assert fit_grid(on_grid(known_matrix(), grid), 64) is None  # the grid's blocks are 32
    assert fit_grid(known_matrix(), 32) is None  # plain float weights


def _stored(rows: np.ndarray) -> np.ndarray:
    """[N, K] rows as a MatMul's [K, N] weight."""
    return np.ascontiguousarray(rows.T)


def _matmul_graph(path, weights: dict[str, np.ndarray]) -> None:
    """x [.., 96] → MatMul(a) → h [.., 64]; y = h·b + h·c (two weights reading one input)."""
    nodes = [helper.make_node("MatMul", ["x", "a"], ["h"]), helper.make_node("MatMul", ["h", "b"], ["g"]),
             helper.make_node("MatMul", ["h", "c"], ["f"]), helper.make_node("Add", ["g", "f"], ["y"])]
    graph = helper.make_graph(
        nodes, "grid", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "s", 96])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(value, name) for name, value in weights.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]), str(path))


def _quantized_error(folder, weights, options: QuantizeOptions):
    """(largest error of the quantized graph's output / largest output, summary, graph)."""
    folder.mkdir()
    _matmul_graph(folder / "model.onnx", weights)
    x = np.random.default_rng(2).standard_normal((2, 3, 96)).astype(np.float32)
    expected = ort.InferenceSession(str(folder / "model.onnx")).run(None, {"x": x})[0]
    summary = quantize_in_place(folder / "model.onnx", options)
    model = onnx.load(str(folder / "model.onnx"))
    actual = ort.InferenceSession(str(folder / "model.onnx")).run(None, {"x": x})[0]
    return np.abs(actual - expected).max() / np.abs(expected).max(), summary, model


def test_a_gguf_graph_runs_in_onnxruntime_with_its_exact_codes(tmp_path):
    """Not bit-exact: MatMulNBits rounds its input to int8 (accuracy level 4); the grid's
    error is that rounding's alone, a fraction of what re-quantizing the weights costs."""
    rng = np.random.default_rng(1)
    weights = {"a": _stored(on_grid(rng.standard_normal((64, 96)).astype(np.float32) * 0.1, "q8_0")),
               "b": _stored(on_grid(rng.standard_normal((32, 64)).astype(np.float32) * 0.1, "q4_1")),
               "c": _stored(on_grid(rng.standard_normal((32, 64)).astype(np.float32) * 0.1 + 0.03, "q4_1"))}
    grid_error, summary, model = _quantized_error(tmp_path / "grid", weights, QuantizeOptions(method="symmetric"))
    plain_error, plain, _ = _quantized_error(tmp_path / "plain", weights, QuantizeOptions(method="symmetric", grid_fit=False))
    assert summary.weights == {"a": "int8 q8_0 grid", "b": "int4 q4_1 grid", "c": "int4 q4_1 grid"}
    assert set(plain.weights.values()) == {"int4 symmetric"}
    ops = Counter(node.op_type for node in model.graph.node)
    assert ops["MatMulNBits"] == 3 and ops["MatMul"] == 1 + 2  # h's block sums once, an offsets MatMul per Q4_1
    assert grid_error < plain_error / 4 and grid_error < 0.01


def _accuracy_levels(model) -> set[int]:
    return {helper.get_node_attr_value(node, "accuracy_level") for node in model.graph.node
            if node.op_type == "MatMulNBits"}


def test_at_fp32_accuracy_a_gguf_graph_computes_what_the_fp32_graph_does(tmp_path):
    """accuracy fp32: every MatMulNBits at accuracy_level 0, the Q8_0 weight as the sum of its
    codes' high and low nibbles at 4 bits; the output the fp32 graph's to fp32 error, where
    int8 activations (the default, level 4) part it by their rounding."""
    rng = np.random.default_rng(1)
    weights = {"a": _stored(on_grid(rng.standard_normal((64, 96)).astype(np.float32) * 0.1, "q8_0")),
               "b": _stored(on_grid(rng.standard_normal((32, 64)).astype(np.float32) * 0.1, "q4_1")),
               "c": _stored(on_grid(rng.standard_normal((32, 64)).astype(np.float32) * 0.1, "q4_0"))}
    int8_error, _, int8_model = _quantized_error(tmp_path / "int8", weights, QuantizeOptions(method="symmetric"))
    fp32 = QuantizeOptions(method="symmetric", accuracy="fp32")
    fp32_error, summary, fp32_model = _quantized_error(tmp_path / "fp32", weights, fp32)
    assert summary.weights == {"a": "int8 q8_0 grid", "b": "int4 q4_1 grid", "c": "int4 q4_0 grid"}
    assert _accuracy_levels(int8_model) == {4} and _accuracy_levels(fp32_model) == {0}
    bits = Counter(helper.get_node_attr_value(node, "bits") for node in fp32_model.graph.node
                   if node.op_type == "MatMulNBits")
    assert bits == {4: 4}  # a's two halves, b, c
    assert fp32_error < 1e-5 < int8_error
    _, _, head_model = _quantized_error(tmp_path / "head", weights, QuantizeOptions(method="symmetric", accuracy="fp32-head"))
    assert _accuracy_levels(head_model) == {4}  # no embedding: no LM head


@pytest.mark.parametrize("accuracy", ["fp32-head", "fp32"])
def test_at_fp32_accuracy_a_q8_0_head_is_its_nibbles_and_the_embedding_reads_its_8_bit_codes(tmp_path, accuracy):
    embedding = on_grid(np.random.default_rng(3).standard_normal((128, 96)).astype(np.float32) * 0.1, "q8_0")
    _tied_graph(tmp_path / "model.onnx", embedding)
    ids = np.array([[1, 5, 9]], np.int64)
    expected = ort.InferenceSession(str(tmp_path / "model.onnx")).run(None, {"ids": ids})[0]
    summary = quantize_in_place(tmp_path / "model.onnx", QuantizeOptions(method="symmetric", accuracy=accuracy))
    assert summary.weights == {"e": "int8 q8_0 grid"} and summary.shared == 1
    model = onnx.load(str(tmp_path / "model.onnx"))
    ops = Counter((node.op_type, helper.get_node_attr_value(node, "bits")) for node in model.graph.node
                  if node.op_type in ("MatMulNBits", "GatherBlockQuantized"))
    assert ops == {("MatMulNBits", 4): 2, ("GatherBlockQuantized", 8): 1}
    assert _accuracy_levels(model) == {0}
    actual = ort.InferenceSession(str(tmp_path / "model.onnx")).run(None, {"ids": ids})[0]
    assert np.abs(actual - expected).max() < 1e-5 * np.abs(expected).max()


@pytest.mark.parametrize("method", ["symmetric", "asymmetric"])
def test_an_8_bit_weight_is_the_sum_of_its_nibbles(method):
    weight = quantize_rows(known_matrix(shift=0.05), 8, 32, method)
    high, low = nibbles(weight)
    assert high.bits == low.bits == 4
    np.testing.assert_allclose(high.dequantized() + low.dequantized(), weight.dequantized(), rtol=0, atol=1e-7)
    assert np.abs(low.dequantized()).max() < np.abs(high.dequantized()).max() / 4  # no half is the whole


def test_the_method_and_every_choice_are_recorded(tmp_path):
    out = exported(tmp_path, merged(LLAMA, {"init_std": 0.02}), quantize="int4", quantize_method="asymmetric")[1]
    manifest = json.loads((out / "light_llm.json").read_text())
    assert manifest["quantize_method"] == "asymmetric" and manifest["quantize_grid_fit"] is True
    assert manifest["quantize_accuracy"] == "int8"
    assert manifest["quantize_accuracy_levels"] == {"lm_head": 4, "others": 4}
    assert set(manifest["quantize_weights"].values()) == {"int4 asymmetric"}
    assert manifest["quantize_choices"] == {"int4 asymmetric": len(manifest["quantize_weights"])}
    assert manifest["parity"]["passed"]
    model = onnx.load(str(out / "model.onnx"))
    matmuls = [node for node in model.graph.node if node.op_type == "MatMulNBits"]
    assert matmuls and all(len(node.input) == 4 for node in matmuls)  # zero points


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--quantize-method", "gptq9", "quantize method 'gptq9': allowed: symmetric, asymmetric, gptq, gptq-symmetric"),
    ("--quantize-embedding", "int2", "quantize embedding 'int2': allowed: same, int8, int4"),
    ("--quantize-int8-share", "1.5", "quantize int8 share 1.5: a share of the weights from 0 to 1"),
    ("--quantize-accuracy", "fp16", "quantize accuracy 'fp16': allowed: int8, fp32-head, fp32"),
])
def test_an_unknown_method_or_embedding_precision_is_one_line(cli, tmp_path, flag, value, message):  # noqa: F811
    model_folder(tmp_path / "run", LLAMA)
    result = cli("export", tmp_path / "run", "--onnx", "--quantize", "int4", flag, value, "--out", tmp_path / "onnx")
    assert_one_line_error(result, message)
    assert not (tmp_path / "onnx").exists()


def _correlated_inputs(loud: list[int]) -> np.ndarray:
    """Inputs with correlated features and a few large ones (`loud`), as real activations have."""
    rng = np.random.default_rng(0)
    mixing = rng.standard_normal((96, 96)).astype(np.float32) * 0.1 + np.eye(96, dtype=np.float32)
    inputs = rng.standard_normal((512, 96)).astype(np.float32) @ mixing
    inputs[:, loud] *= 20
    return inputs


@pytest.mark.parametrize("rule", ["asymmetric", "symmetric"])
def test_gptq_keeps_a_layers_output_closer_than_rounding_each_weight(rule):
    """GPTQ's output error is well under round-to-nearest's at the same block size and scale rule."""
    from light_llm.exports.quantize_gptq import gptq_rows

    inputs, rows = _correlated_inputs([0, 1, 2, 3]), known_matrix()
    output_error = lambda weight: (np.linalg.norm(inputs @ (weight.dequantized() - rows).T)  # noqa: E731
                                   / np.linalg.norm(inputs @ rows.T))
    for block_size in (32, 64):
        gptq = gptq_rows(rows, inputs.T @ inputs, 4, block_size, rule)
        assert output_error(gptq) < 0.7 * output_error(quantize_rows(rows, 4, block_size, rule))
        assert (gptq.zero_points is None) == (rule == "symmetric") and gptq.dequantized().shape == rows.shape


def test_gptq_rounds_the_columns_of_largest_curvature_first():
    """Activation order: the loudest input's column is rounded before any error reaches it
    (its codes are plain rounding's, with the block's scale read from the unquantized
    weights), while columns rounded later carry earlier columns' compensation."""
    from light_llm.exports.quantize_gptq import gptq_rows

    loud = 77  # in the third block of 32, behind 76 columns that natural order would round first
    inputs, rows = _correlated_inputs([loud]), known_matrix()
    gptq = gptq_rows(rows, inputs.T @ inputs, 4, 32, "asymmetric").dequantized()
    rounded = quantize_rows(rows, 4, 32, "asymmetric").dequantized()
    np.testing.assert_array_equal(gptq[:, loud], rounded[:, loud])
    assert (gptq[:, 70] != rounded[:, 70]).any()


@pytest.mark.parametrize("method", ["gptq", "gptq-symmetric"])
def test_a_gptq_export_is_calibrated_on_text_apart_from_the_evaluation_text(tmp_path, method):
    from light_llm.evaluate.text import builtin_text
    from light_llm.exports.quantize_calibration import BUILTIN_CALIBRATION, calibration_text

    evaluation, calibration = builtin_text(), calibration_text()
    lines = {line for line in evaluation.splitlines() if len(line) > 40}
    assert not [line for line in calibration.splitlines() if line in lines]
    out = exported(tmp_path, merged(LLAMA, {"init_std": 0.02}), quantize="int4", quantize_method=method)[1]
    manifest = json.loads((out / "light_llm.json").read_text())
    assert manifest["quantize_method"] == method and manifest["parity"]["passed"]
    assert manifest["quantize_calibration"].startswith(BUILTIN_CALIBRATION)
    assert set(manifest["quantize_weights"].values()) == {f"int4 {method}"}
    assert not list(out.glob("*.calibration"))
    zero_points = {len(node.input) > 3 for node in onnx.load(str(out / "model.onnx")).graph.node
                   if node.op_type == "MatMulNBits"}
    assert zero_points == {method == "gptq"}  # gptq-symmetric: the runtime's default zero point


@pytest.mark.parametrize(("content", "message"), [(None, "no such text file"), ("  \n", "the text is empty")])
def test_a_missing_or_empty_calibration_text_is_one_line(cli, tmp_path, content, message):  # noqa: F811
    model_folder(tmp_path / "run", LLAMA)
    text = tmp_path / "calibration.txt"
    if content is not None:
        text.write_text(content)
    result = cli("export", tmp_path / "run", "--onnx", "--quantize", "int4", "--quantize-method", "gptq",
                 "--quantize-calibration-text", text, "--out", tmp_path / "onnx")
    assert_one_line_error(result, message)
    assert not (tmp_path / "onnx").exists()


def test_a_calibration_text_for_a_method_that_reads_none_is_one_line(cli, tmp_path):  # noqa: F811
    model_folder(tmp_path / "run", LLAMA)
    text = tmp_path / "calibration.txt"
    text.write_text("Some English text to calibrate on.\n")
    result = cli("export", tmp_path / "run", "--onnx", "--quantize", "int4", "--quantize-method", "symmetric",
                 "--quantize-calibration-text", text, "--out", tmp_path / "onnx")
    assert_one_line_error(result, "a quantize calibration text applies to the gptq methods only")
    assert not (tmp_path / "onnx").exists()


def test_an_int8_embedding_keeps_the_tied_head_at_8_bits_and_the_rest_at_4(tmp_path):
    out = exported(tmp_path, merged(LLAMA, {"init_std": 0.02}), quantize="int4", quantize_embedding="int8",
                   quantize_method="symmetric")[1]
    manifest = json.loads((out / "light_llm.json").read_text())
    assert manifest["quantize_embedding"] == "int8" and manifest["parity"]["passed"]
    model = onnx.load(str(out / "model.onnx"))
    bits = {node.name: helper.get_node_attr_value(node, "bits") for node in model.graph.node
            if node.op_type in ("MatMulNBits", "GatherBlockQuantized")}
    (gather,) = [node for node in model.graph.node if node.op_type == "GatherBlockQuantized"]
    lm_head = [node for node in model.graph.node if node.op_type == "MatMulNBits"][-1]
    assert bits.pop(gather.name) == 8 and bits.pop(lm_head.name) == 8 and set(bits.values()) == {4}
    assert gather.input[2] == lm_head.input[2]  # still one matrix for both
    assert Counter(manifest["quantize_weights"].values()) == {"int4 symmetric": len(bits), "int8 symmetric": 1}


def test_gptq_without_text_to_calibrate_on_falls_back_to_its_scale_rule_and_says_so(tmp_path, monkeypatch):
    import light_llm.exports.quantize_calibration as calibration
    from light_llm.evaluate.errors import EvalError

    def untokenizable(*args):
        raise EvalError("no tokenizer.json")

    monkeypatch.setattr(calibration, "calibration_windows", untokenizable)
    out = exported(tmp_path, merged(LLAMA, {"init_std": 0.02}), quantize="int4", quantize_method="gptq")[1]
    manifest = json.loads((out / "light_llm.json").read_text())
    assert manifest["quantize_calibration"].startswith("none (no tokenizer.json)")
    assert set(manifest["quantize_weights"].values()) == {"int4 asymmetric"} and manifest["parity"]["passed"]


def _tied_graph(path, embedding: np.ndarray) -> None:
    """ids → Gather(e) → h; logits = h·eᵀ (a tied LM head, traced as a Transpose)."""
    nodes = [helper.make_node("Gather", ["e", "ids"], ["h"]), helper.make_node("Transpose", ["e"], ["et"], perm=[1, 0]),
             helper.make_node("MatMul", ["h", "et"], ["y"])]
    graph = helper.make_graph(
        nodes, "tied", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["b", "s"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [numpy_helper.from_array(embedding, "e")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]), str(path))


@pytest.mark.parametrize(("embedding_bits", "choice", "error_bound"), [
    (0, "int8 q8_0 grid", 0.02), (4, "int4 symmetric", 0.2)])
def test_an_int4_embedding_rounds_a_q8_0_grid_head_to_4_bits(tmp_path, embedding_bits, choice, error_bound):
    """The embedding's named bits win over the 8-bit grid it lies on (a 4-bit head decodes faster)."""
    embedding = on_grid(np.random.default_rng(3).standard_normal((128, 96)).astype(np.float32) * 0.1, "q8_0")
    _tied_graph(tmp_path / "model.onnx", embedding)
    ids = np.array([[1, 5, 9]], np.int64)
    expected = ort.InferenceSession(str(tmp_path / "model.onnx")).run(None, {"ids": ids})[0]
    summary = quantize_in_place(tmp_path / "model.onnx", QuantizeOptions(method="symmetric", embedding_bits=embedding_bits))
    assert summary.weights == {"e": choice} and summary.shared == 1
    model = onnx.load(str(tmp_path / "model.onnx"))
    bits = {helper.get_node_attr_value(node, "bits") for node in model.graph.node
            if node.op_type in ("MatMulNBits", "GatherBlockQuantized")}
    assert bits == {8 if embedding_bits == 0 else 4}
    actual = ort.InferenceSession(str(tmp_path / "model.onnx")).run(None, {"ids": ids})[0]
    error = np.abs(actual - expected).max() / np.abs(expected).max()
    assert error_bound / 20 < error < error_bound if embedding_bits else error < error_bound


def _heavy_tailed(rng, shape) -> np.ndarray:
    """Weights whose blocks each hold a few large values: 4-bit rounding flattens the rest."""
    values = rng.standard_normal(shape).astype(np.float32) * 0.1
    values[rng.random(shape) < 0.05] *= 40
    return values


@pytest.mark.parametrize("planted", ["a", "c"])
def test_the_weight_most_sensitive_to_rounding_is_kept_at_8_bits(tmp_path, planted):
    rng = np.random.default_rng(4)
    rows = {"a": rng.standard_normal((64, 96)).astype(np.float32) * 0.1,
            "b": rng.standard_normal((32, 64)).astype(np.float32) * 0.1,
            "c": rng.standard_normal((32, 64)).astype(np.float32) * 0.1}
    rows[planted] = _heavy_tailed(rng, rows[planted].shape)
    weights = {name: _stored(value) for name, value in rows.items()}
    share = 0.6 if planted == "a" else 0.2  # a: 6144 of 10240 parameters; b, c: 2048 each
    mixed_error, summary, model = _quantized_error(tmp_path / "mixed", weights,
                                                   QuantizeOptions(method="asymmetric", int8_share=share))
    plain_error, _, _ = _quantized_error(tmp_path / "plain", weights, QuantizeOptions(method="asymmetric"))
    errors = summary.sensitivity["errors"]
    assert summary.sensitivity["measure"] == "relative" and max(errors, key=errors.get) == planted
    assert summary.weights == {name: f"int{8 if name == planted else 4} asymmetric" for name in rows}
    bits = {node.input[1]: helper.get_node_attr_value(node, "bits") for node in model.graph.node
            if node.op_type == "MatMulNBits"}
    assert bits == {f"{name}_Q{8 if name == planted else 4}": 8 if name == planted else 4 for name in rows}
    assert mixed_error < 0.8 * plain_error


def test_nothing_is_promoted_when_no_weight_fits_the_share(tmp_path):
    weights = {name: _stored(np.random.default_rng(5).standard_normal(shape).astype(np.float32))
               for name, shape in (("a", (64, 96)), ("b", (32, 64)), ("c", (32, 64)))}
    _, summary, _ = _quantized_error(tmp_path / "q", weights, QuantizeOptions(method="symmetric", int8_share=0.1))
    assert set(summary.weights.values()) == {"int4 symmetric"} and len(summary.sensitivity["errors"]) == 3


def test_a_mixed_gptq_export_promotes_its_largest_output_errors_and_passes_the_gate(tmp_path):
    from test_onnx_genai import NEW_TOKENS, PROMPT, genai_greedy  # skips where onnxruntime-genai is missing

    out = exported(tmp_path, merged(LLAMA, {"init_std": 0.02}), quantize="int4", quantize_method="gptq",
                   quantize_int8_share=0.25)[1]
    manifest = json.loads((out / "light_llm.json").read_text())
    assert manifest["parity"]["passed"] and manifest["quantize_int8_share"] == 0.25
    sensitivity = manifest["quantize_sensitivity"]
    assert sensitivity["measure"] == "output"
    promoted = {name for name, choice in manifest["quantize_weights"].items() if choice == "int8 gptq"}
    errors = sensitivity["errors"]
    kept = set(errors) - promoted
    assert max(errors, key=errors.get) in promoted and kept  # each weight is well under a quarter of them all
    assert np.mean([errors[name] for name in promoted]) > 2 * np.mean([errors[name] for name in kept])
    model = onnx.load(str(out / "model.onnx"))
    assert {helper.get_node_attr_value(node, "bits") for node in model.graph.node
            if node.op_type == "MatMulNBits"} == {4, 8}
    run = out.parent / "run"
    eager = load_eager(run)
    expected = generate_ids(eager.run, eager.geometry, [PROMPT], max_new_tokens=NEW_TOKENS)[0]
    assert genai_greedy(out, PROMPT, NEW_TOKENS) == expected  # onnxruntime-genai runs it, as fp32 decides


def test_an_int8_share_of_an_int8_export_is_refused():
    from light_llm.exports.quantize import check_quantization
    from light_llm.exports.result import ExportError

    with pytest.raises(ExportError, match=r"^a quantize int8 share applies to int4 exports only \(quantize is int8\)$"):
        check_quantization("int8", int8_share=0.2)


@pytest.mark.parametrize(("loud", "promoted"), [("x", {"a"}), ("h", {"b", "c"})])
def test_under_gptq_the_weights_whose_inputs_are_loudest_are_kept_at_8_bits(tmp_path, loud, promoted):
    """The same weights, measured against their inputs' Gram matrices: the ones reading
    the input 100× louder add the most output error and are promoted."""
    rng = np.random.default_rng(6)
    weights = {name: _stored(rng.standard_normal(shape).astype(np.float32) * 0.1)
               for name, shape in (("a", (64, 96)), ("b", (32, 64)), ("c", (32, 64)))}
    grams = {name: np.eye(size, dtype=np.float32) * (1e4 if name == loud else 1.0)
             for name, size in (("x", 96), ("h", 64))}
    options = QuantizeOptions(method="gptq", int8_share=0.6, calibration=lambda inputs, path: grams)
    _, summary, _ = _quantized_error(tmp_path / "q", weights, options)
    assert summary.sensitivity["measure"] == "output"
    assert summary.weights == {name: f"int{8 if name in promoted else 4} gptq" for name in weights}
