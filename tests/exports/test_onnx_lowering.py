"""The ONNX writer (exports/onnx_lowering): the graphs it writes for a Llama-style spec in
both forms, the per-layer lowering plan and its fallback, and the --portable switch."""

from __future__ import annotations

import json
from collections import Counter

import onnx
import pytest
from onnx_fixtures import LLAMA
from torch_targets_matrix import merged, model_folder

from light_llm.compiler.pipeline import lower_spec
from light_llm.exports.onnx_lowering.graph import write_graph
from light_llm.exports.onnx_lowering.plan import lowering_plan
from light_llm.runtime.geometry import Geometry

LLAMA_GQA = merged(LLAMA, {"num_layers": 3, "attention": {"variant": "gqa", "num_heads": 2, "num_kv_heads": 1}})


def written(tmp_path, model: dict, portable: bool = False, metadata=None, min_onnxruntime: str = "1.30"):
    folder = model_folder(tmp_path / "run", model)
    ir = lower_spec(folder.spec, target="export")
    write_graph(ir, tmp_path / "run" / "model.safetensors", tmp_path / "model.onnx", 18, metadata or {},
                lowering_plan(ir, portable, min_onnxruntime), portable)
    return ir, onnx.load(tmp_path / "model.onnx")


@pytest.mark.parametrize("min_onnxruntime", ["1.30", "1.32"])
def test_fused_llama_graph_has_one_attention_node_per_layer(tmp_path, min_onnxruntime):
    """The packed QKV straight into GroupQueryAttention, which rotates Q and K: 1.30 by slot
    (no position_ids input), 1.32 at position_ids (with query_seqlens)."""
    ir, model = written(tmp_path, LLAMA_GQA, metadata={"k": "v"}, min_onnxruntime=min_onnxruntime)
    ops = Counter(node.op_type for node in model.graph.node)
    layers = ir.num_layers
    assert ops["GroupQueryAttention"] == layers
    assert ops["Softmax"] == 0 and ops["Concat"] <= 1  # no per-layer attention or cache ops
    assert ops["SkipSimplifiedLayerNormalization"] == 2 * layers  # every residual add + norm
    assert ops["SimplifiedLayerNormalization"] == 1  # the first norm has no residual yet
    assert ops["MatMul"] == 4 * layers + 1  # packed QKV, o_proj, packed gate|up, down; LM head
    assert ops["Where"] == 1  # the mask: once per graph
    attention = next(node for node in model.graph.node if node.op_type == "GroupQueryAttention")
    assert ops["RotaryEmbedding"] == 0 and ops["Split"] == layers  # gate|up only
    assert attention.input[0].endswith("qkv_proj/MatMul/output_0") and attention.input[1:3] == ["", ""]
    assert {a.name: a.i for a in attention.attribute}["do_rotary"] == 1
    if min_onnxruntime == "1.30":
        assert attention.input[9] == "" and len(attention.input) == 11  # by slot: no positions, no query_seqlens
    else:
        assert attention.input[9] == "position_ids" and attention.input[16]  # per-row positions (query_seqlens)
    tables = {t.name: list(t.dims) for t in model.graph.initializer}
    assert tables["blocks.0.attention.qkv_proj.weight"] == [ir.d_model, (2 + 2 * 1) * ir.head_dim]
    assert "lm_head.weight" not in tables  # tied: the LM head reads the embedding
    geometry = Geometry.from_ir(ir)
    assert [v.name for v in model.graph.input] == geometry.input_names()
    assert [v.name for v in model.graph.output] == geometry.output_names()
    assert {p.key: p.value for p in model.metadata_props} == {"k": "v"}


def test_plan_falls_back_where_the_fused_op_cannot_express_the_model(tmp_path):
    def plan(model):
        return lowering_plan(lower_spec(model_folder(tmp_path / str(id(model)), model).spec, target="export"))

    assert {layer.lowering for layer in plan(LLAMA_GQA)} == {"fused"}
    odd_heads = plan(merged(LLAMA, {"attention": {"num_heads": 4}}))  # head_dim 8
    assert {layer.lowering for layer in odd_heads} == {"standard"}
    assert "head_dim 8" in odd_heads[0].reason and "multiple of 16" in odd_heads[0].reason
    bidirectional = plan(merged(LLAMA, {"attention": {"mask_type": "bidirectional"}}))
    assert "bidirectional" in bidirectional[1].reason


def test_portable_llama_graph_has_standard_ops_only(tmp_path):
    ir, model = written(tmp_path, LLAMA_GQA, portable=True)
    ops = Counter(node.op_type for node in model.graph.node)
    assert {node.domain for node in model.graph.node} == {""}
    assert [o.domain for o in model.opset_import] == [""] and model.opset_import[0].version == 18
    assert ops["Softmax"] == ir.num_layers and ops["GroupQueryAttention"] == 0
    assert ops["MatMul"] == 6 * ir.num_layers + 1  # + scores and weights·V per layer
    assert ops["Where"] == 1  # the mask (padding and causal rule): once per graph


def test_layer_the_fused_op_cannot_express_gets_standard_attention(tmp_path):
    ir, model = written(tmp_path, merged(LLAMA, {"attention": {"num_heads": 4}}))  # head_dim 8
    ops = Counter(node.op_type for node in model.graph.node)
    assert ops["GroupQueryAttention"] == 0 and ops["Softmax"] == ir.num_layers
    assert ops["SkipSimplifiedLayerNormalization"] == 2 * ir.num_layers  # the rest stays fused


@pytest.mark.parametrize(("rope_fraction", "inside"), [(0.5, True), (0.25, False)])
def test_rotary_is_inside_the_attention_node_where_its_tables_fit(tmp_path, rope_fraction, inside):
    """min_onnxruntime 1.32, head_dim 32: half of it is 8 rotated pairs (GroupQueryAttention's
    do_rotary takes multiples of 8), a quarter 4 pairs (RotaryEmbedding nodes before it); both
    pass the gate, whose padded prefill and decode checks compare logits and presents."""
    from light_llm.exports.onnx import export_onnx

    partial = merged(LLAMA, {"d_model": 64, "positional": {"rope_fraction": rope_fraction}})
    folder = model_folder(tmp_path / "run", partial)
    result = export_onnx(folder, tmp_path / "onnx", min_onnxruntime="1.32")
    assert result.parity.passed
    lowering = json.loads((tmp_path / "onnx" / "light_llm.json").read_text())["lowering"]
    assert lowering["min_onnxruntime"] == "1.32"
    assert {layer["rotary"] for layer in lowering["layers"]} == {"attention" if inside else "RotaryEmbedding"}
    graph = onnx.load(tmp_path / "onnx" / "model.onnx").graph
    ops = Counter(node.op_type for node in graph.node)
    layers = ops["GroupQueryAttention"]
    assert layers == 2 and ops["RotaryEmbedding"] == (0 if inside else 2 * layers)
    attention = next(node for node in graph.node if node.op_type == "GroupQueryAttention")
    assert {a.name: a.i for a in attention.attribute}.get("do_rotary", 0) == int(inside)


@pytest.fixture(scope="module")
def cli():
    from typer.testing import CliRunner

    from light_llm.cli import app as cli_module

    if not cli_module.app.registered_commands:
        cli_module._register_commands()
    runner = CliRunner()
    return lambda *args: runner.invoke(cli_module.app, [str(a) for a in args])


def test_cli_portable_writes_standard_ops_and_no_shared_buffer(cli, tmp_path):
    model_folder(tmp_path / "run", LLAMA)
    result = cli("export", tmp_path / "run", "--onnx", "--portable", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "lowering: portable graph, standard ONNX ops in all 2 layers (--portable)" in result.output
    domains = {node.domain for node in onnx.load(tmp_path / "out" / "model.onnx").graph.node}
    assert domains <= {"", "ai.onnx"}
    manifest = json.loads((tmp_path / "out" / "light_llm.json").read_text())
    assert manifest["lowering"]["form"] == "portable"
    assert {layer["lowering"] for layer in manifest["lowering"]["layers"]} == {"standard"}
    genai = json.loads((tmp_path / "out" / "genai_config.json").read_text())
    assert genai["search"]["past_present_share_buffer"] is False


def test_cli_min_onnxruntime_is_checked(cli, tmp_path):
    model_folder(tmp_path / "run", LLAMA)
    result = cli("export", tmp_path / "run", "--onnx", "--min-onnxruntime", "1.31", "--out", tmp_path / "out")
    assert result.exit_code == 1 and "min_onnxruntime='1.31': allowed: 1.30, 1.32" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


def test_cli_quantize_block_size(cli, tmp_path):
    model_folder(tmp_path / "run", LLAMA)
    result = cli("export", tmp_path / "run", "--torchscript", "--quantize-block-size", "16")
    assert result.exit_code == 1 and "--quantize-block-size applies to --onnx only" in result.output
    result = cli("export", tmp_path / "run", "--onnx", "--quantize", "int4", "--quantize-block-size", "16",
                 "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out" / "light_llm.json").read_text())["quantize_block_size"] == 16


def test_cli_portable_needs_onnx(cli, tmp_path):
    model_folder(tmp_path / "run", LLAMA)
    result = cli("export", tmp_path / "run", "--torchscript", "--portable")
    assert result.exit_code == 1 and "--portable applies to --onnx only" in result.output
    assert "Traceback" not in result.output


def test_weights_as_external_data_give_the_same_outputs(tmp_path, monkeypatch):
    """Above 2 GB the weights go to model.onnx.data; a 0-byte limit takes that path here."""
    import numpy as np

    from light_llm.exports.onnx_lowering import tensors
    from light_llm.runtime.feeds import step_feeds
    from light_llm.runtime.session import OnnxSession

    ir, _ = written(tmp_path / "inline", LLAMA_GQA)
    monkeypatch.setattr(tensors, "EXTERNAL_DATA_BYTES", 0)
    written(tmp_path / "external", LLAMA_GQA)
    assert sorted(p.name for p in (tmp_path / "external").iterdir()) == ["model.onnx", "model.onnx.data", "run"]
    assert (tmp_path / "external" / "model.onnx").stat().st_size < 64 * 1024  # the graph only
    tokens = np.arange(10, dtype=np.int64).reshape(2, 5)
    feeds = step_feeds(Geometry.from_ir(ir), tokens, np.ones((2, 5), dtype=np.int64), None)
    inline = OnnxSession(tmp_path / "inline" / "model.onnx")(feeds)
    external = OnnxSession(tmp_path / "external" / "model.onnx")(feeds)
    assert np.array_equal(inline["logits"], external["logits"])


@pytest.mark.parametrize("portable", [False, True])
def test_layer_pattern_computes_each_mask_and_rotary_table_once(tmp_path, portable):
    """5 layers alternating sliding-window (RoPE base 100) and global (base 1e6): two masks
    and two cos/sin tables per graph, each layer reading its own."""
    pattern = merged(LLAMA_GQA, {"num_layers": 5, "attention": {
        "mask_type": "sliding_window", "window_size": 4, "layer_pattern": ["sliding_window", "causal"]},
        "positional": {"rope_base": 1000000.0, "sliding_rope_base": 100.0}})
    ir, model = written(tmp_path, pattern, portable=portable)
    ops = Counter(node.op_type for node in model.graph.node)
    assert ops["Where"] == 2  # one mask per kind, not per layer
    tables = {t.name for t in model.graph.initializer if t.name.endswith("cos_cache")}
    assert tables == {"rotary.cos_cache", "rotary.1.cos_cache"}
    if not portable:
        readers = {node.input[7] for node in model.graph.node if node.op_type == "GroupQueryAttention"}
        assert readers == tables
