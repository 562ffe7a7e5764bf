"""The models doc's recipe for a new option, walked at test time: one entry in the option
table (options.py), its module and its ONNX lowering make a positional encoding or an FFN
variant that the spec accepts, lowering records, the cost model counts, the model runs —
with KV-cache decoding equal to the full forward — and both ONNX forms export through the
parity gate. Everything the new options need lives in this one file (as it would in
options.py, their module's file and onnx_lowering's): nothing else in light_llm changes."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper
from safetensors.numpy import load_file
from torch import nn

from light_llm.compiler.build import build
from light_llm.compiler.pipeline import lower_spec
from light_llm.compiler.resolve import resolve_spec
from light_llm.errors import ExportError
from light_llm.exports.onnx import export_onnx
from light_llm.exports.onnx_lowering.ffn import activation
from light_llm.exports.onnx_lowering.linear import linear
from light_llm.model_folder import load_model_folder, save_model_folder
from light_llm.models.transformer import options
from light_llm.models.transformer.cost import model_cost
from light_llm.models.transformer.lower import lower
from light_llm.models.transformer.options import FFNVariant, ONNXLowering, PositionalEncoding
from light_llm.schemas.errors import SpecError
from light_llm.schemas.json_schema import spec_json_schema
from light_llm.schemas.load import load_spec
from light_llm.schemas.structure import _validator


class ScaledLearnedPositions(nn.Module):
    """A learned table added at half strength: reads positions, has parameters."""

    def __init__(self, ir, d_model: int):
        super().__init__()
        self.embedding = nn.Embedding(ir.max_seq_len, d_model)

    def forward(self, position_ids: torch.Tensor) -> torch.Tensor:
        return 0.5 * self.embedding(position_ids)


class SquaredReLUFFN(nn.Module):
    """down(relu(up(x))²): two projections."""

    def __init__(self, ir):
        super().__init__()
        self.up_proj = nn.Linear(ir.d_model, ir.hidden_dim, bias=ir.bias)
        self.down_proj = nn.Linear(ir.hidden_dim, ir.d_model, bias=ir.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(torch.relu(self.up_proj(x)) ** 2)

    @property
    def output_projection(self) -> nn.Linear:
        return self.down_proj


def squared_relu_onnx(g, weights, prefix: str, ir, x: str) -> str:
    """The ONNX lowering of SquaredReLUFFN, for both forms: its activation through that
    entry's lowering (Relu either way), squared by a Mul."""
    scope = f"/{prefix}"
    hidden = activation(g, ir.activation, linear(g, weights, x, f"{prefix}.up_proj"), scope)
    return linear(g, weights, g.op("Mul", hidden, hidden, scope=scope), f"{prefix}.down_proj")


def unsquared_relu_onnx(g, weights, prefix: str, ir, x: str) -> str:
    """A wrong lowering (the square left out), which the parity gate must refuse."""
    hidden = activation(g, ir.activation, linear(g, weights, x, f"{prefix}.up_proj"), f"/{prefix}")
    return linear(g, weights, hidden, f"{prefix}.down_proj")


HERE = __name__
HALF_LEARNED = PositionalEncoding(
    "half_learned", "a learned table at half strength", reads_positions=True,
    embedding=f"{HERE}:ScaledLearnedPositions",
    embedding_parameters=lambda max_seq_len, d_model: max_seq_len * d_model,
    onnx_embedding=ONNXLowering.both("light_llm.exports.onnx_lowering.embedding:tabulated_positions"),
)
RELU2 = FFNVariant("relu2", "relu(up)² then down", f"{HERE}:SquaredReLUFFN", 2, activation="relu",
                   onnx=ONNXLowering.both(f"{HERE}:squared_relu_onnx"))


@pytest.fixture()
def new_options():
    yield from _registered(HALF_LEARNED, RELU2)


def _registered(encoding: PositionalEncoding, variant: FFNVariant):
    options.register(options.POSITIONAL_ENCODINGS, encoding)
    options.register(options.FFN_VARIANTS, variant)
    _forget_schema()
    yield
    options.POSITIONAL_ENCODINGS.pop(encoding.name)
    options.FFN_VARIANTS.pop(variant.name)
    _forget_schema()


def _forget_schema() -> None:
    spec_json_schema.cache_clear()
    _validator.cache_clear()


SPEC = {
    "model": {
        "vocab_size": 40, "d_model": 16, "num_layers": 2, "max_seq_len": 24,
        "attention": {"num_heads": 2},
        "positional": {"encoding": "half_learned"},
        "ffn": {"variant": "relu2", "expansion_factor": 2.0},
    }
}


def test_unregistered_options_are_spec_errors():
    with pytest.raises(SpecError, match="half_learned"):
        load_spec(SPEC)


def test_a_new_encoding_and_ffn_variant_validate_lower_count_and_decode(new_options):
    spec = load_spec(SPEC)
    ir = lower(spec.model)
    assert ir.positional.uses_position_ids and ir.blocks[0].ffn.activation == "relu"
    model = build(ir, seed=0).eval()
    counted = sum(p.numel() for p in model.parameters())
    assert model_cost(ir).parameters == counted
    # The table's rules apply to the new entries: rope_base belongs to rope alone, and the
    # activation of a variant that fixes its own is refused.
    for section, key, value in (("positional", "rope_base", 5.0), ("ffn", "activation", "gelu")):
        bad = {"model": {**SPEC["model"], section: {**SPEC["model"][section], key: value}}}
        with pytest.raises(SpecError, match=key):
            load_spec(bad)

    tokens = torch.randint(0, 40, (2, 10))
    with torch.no_grad():
        full = model(tokens)
        past = model.empty_cache(2)
        steps = []
        for t in range(10):
            mask = torch.ones(2, t + 1, dtype=torch.long)
            logits, past = model.forward_with_cache(tokens[:, t:t + 1], mask, torch.full((2, 1), t), past)
            steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)
    # The positions matter: shifting them changes the logits.
    with torch.no_grad():
        shifted, _ = model.forward_with_cache(tokens, torch.ones(2, 10, dtype=torch.long),
                                              torch.arange(1, 11).expand(2, 10), model.empty_cache(2))
    assert not torch.allclose(shifted, full)


# head_dim 16: a size onnxruntime's GroupQueryAttention takes, so the fused form is fused.
ONNX_MODEL = {**SPEC["model"], "d_model": 32, "init_std": 0.2}


def _folder(root, seed: int = 0):
    spec = resolve_spec(load_spec({"spec_version": 1, "model": ONNX_MODEL}))
    save_model_folder(root, spec, build(lower_spec(spec), seed=seed))
    return load_model_folder(root)


@pytest.mark.parametrize("form", ["fused", "portable"])
def test_the_new_options_export_to_both_onnx_forms_through_the_parity_gate(new_options, tmp_path, form):
    result = export_onnx(_folder(tmp_path / "run"), tmp_path / "onnx", portable=form == "portable")
    report = result.parity
    assert report.passed and report.max_abs_error <= 1e-4
    assert report.greedy_matching_tokens == report.greedy_tokens >= 16  # as far as max_seq_len 24 allows
    assert sum("decode step" in check.name for check in report.checks) >= 8
    lowering = json.loads((tmp_path / "onnx" / "light_llm.json").read_text())["lowering"]
    assert lowering["form"] == form
    assert {layer["lowering"] for layer in lowering["layers"]} == {"fused" if form == "fused" else "standard"}
    graph = onnx.load(tmp_path / "onnx" / "model.onnx").graph
    ops = Counter(node.op_type for node in graph.node)
    assert ops["Relu"] == 2  # one squared ReLU per layer
    assert ops["GroupQueryAttention"] == (2 if form == "fused" else 0)
    assert ({node.domain for node in graph.node} == {""}) == (form == "portable")
    # The position table is the new module's: half the learned weights.
    table = numpy_helper.to_array(next(t for t in graph.initializer if t.name == "embed_positions.table"))
    learned = load_file(tmp_path / "run" / "model.safetensors")["embed_positions.embedding.weight"]
    np.testing.assert_array_equal(table, 0.5 * learned)


def test_a_wrong_onnx_lowering_of_a_new_option_is_refused_by_the_parity_gate(tmp_path):
    wrong = replace(RELU2, onnx=ONNXLowering.both(f"{HERE}:unsquared_relu_onnx"))
    for _ in _registered(HALF_LEARNED, wrong):
        with pytest.raises(ExportError, match="parity"):
            export_onnx(_folder(tmp_path / "run"), tmp_path / "onnx", portable=True)
    assert not (tmp_path / "onnx").exists()


def test_a_new_option_without_an_onnx_lowering_is_refused_by_name(tmp_path):
    eager_only = replace(RELU2, onnx=None)
    for _ in _registered(HALF_LEARNED, eager_only):
        with pytest.raises(ExportError, match="FFN variant 'relu2' has no ONNX lowering"):
            export_onnx(_folder(tmp_path / "run"), tmp_path / "onnx")
