"""The served graph computes logits for the last position only (runtime/last_logits.py):
the same last-position logits and presents as the exported graph, on real exports
(fused and standard-ops attention), and graphs that cannot be cut are left whole."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from light_llm.runtime import load_export
from light_llm.runtime.feeds import step_feeds
from light_llm.runtime.last_logits import last_position_graph
from light_llm.serve.model import load_served_model


@pytest.mark.parametrize("export", ["fused_export", "serve_export"])
def test_served_prefill_gives_the_last_positions_logits_and_the_same_presents(request, export) -> None:
    folder = request.getfixturevalue(export)
    served, exported = load_served_model(folder).generator, load_export(folder)
    geometry = served.geometry
    ids = np.random.default_rng(0).integers(1, geometry.vocab_size, (2, 9))
    mask = np.ones_like(ids)
    mask[1, :4] = 0  # a left-padded row
    feeds = step_feeds(geometry, ids, mask, None)
    cut, whole = served.run(feeds), exported.run(feeds)
    assert cut["logits"].shape == (2, 1, geometry.vocab_size) and whole["logits"].shape[1] == 9
    np.testing.assert_allclose(cut["logits"][:, -1], whole["logits"][:, -1], atol=1e-5)
    for name, present in whole.items():
        if name != "logits":
            np.testing.assert_array_equal(cut[name], present)


def _graph(tmp_path, tail: str) -> str:
    """hidden [B, T, 4] @ W [4, 6] → logits, through `tail`: "none", "bias", or "shared"
    (the product also an output of its own)."""
    weight = numpy_helper.from_array(np.arange(24, dtype=np.float32).reshape(4, 6) / 10, "W")
    bias = numpy_helper.from_array(np.ones(6, dtype=np.float32), "b")
    product = "logits" if tail == "none" else "product"
    nodes = [helper.make_node("MatMul", ["hidden", "W"], [product])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["B", "T", 6])]
    if tail != "none":
        nodes.append(helper.make_node("Add", ["product", "b"], ["logits"]))
    if tail == "shared":
        outputs.append(helper.make_tensor_value_info("product", TensorProto.FLOAT, ["B", "T", 6]))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["B", "T", 4])],
                              outputs, [weight, bias])
    path = tmp_path / f"{tail}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


@pytest.mark.parametrize("tail", ["none", "bias"])
def test_a_projection_with_constant_element_wise_ops_after_it_is_cut(tmp_path, tail) -> None:
    import onnxruntime as ort

    path = _graph(tmp_path, tail)
    hidden = np.random.default_rng(1).standard_normal((2, 5, 4)).astype(np.float32)
    whole = ort.InferenceSession(str(path)).run(None, {"hidden": hidden})[0]
    cut = ort.InferenceSession(last_position_graph(path)).run(None, {"hidden": hidden})[0]
    assert cut.shape == (2, 1, 6)
    np.testing.assert_allclose(cut[:, 0], whole[:, -1], rtol=1e-6)


def test_a_product_used_elsewhere_is_left_whole(tmp_path) -> None:
    assert last_position_graph(_graph(tmp_path, "shared")) is None
