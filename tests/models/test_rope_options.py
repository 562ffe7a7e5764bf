"""The RoPE options of docs/models.md: scaling rules (linear, llama3, yarn) checked against
transformers' own frequency functions, partial rotary and the two pairings checked
against their definitions."""

from __future__ import annotations

import math

import pytest
import torch
from tiny_models import tiny_ir, tiny_model, tokens

from light_llm.models.transformer.positional import ComplexPhase, rope_rotation
from light_llm.models.transformer.rope_scaling import inverse_frequencies

transformers = pytest.importorskip("transformers")
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS  # noqa: E402

LLAMA3 = {"type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 64}
YARN = {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64}


def hf_frequencies(rope: dict, head_dim: int, base: float, fraction: float = 1.0):
    params = {"rope_type": rope["type"], "rope_theta": base, "partial_rotary_factor": fraction}
    params |= {key: value for key, value in rope.items() if key != "type"}
    config = transformers.LlamaConfig(hidden_size=head_dim * 2, num_attention_heads=2, head_dim=head_dim,
                                      max_position_embeddings=4096, rope_parameters=params)
    return ROPE_INIT_FUNCTIONS[rope["type"]](config, "cpu")


@pytest.mark.parametrize("rope", [LLAMA3, YARN, {**YARN, "beta_fast": 16.0, "beta_slow": 2.0,
                                                 "attention_factor": 1.25}, {**YARN, "truncate": False}])
@pytest.mark.parametrize("fraction", [1.0, 0.5])
def test_scaled_frequencies_equal_transformers(rope, fraction):
    ir = tiny_ir(d_model=128, positional={"rope_base": 10000.0, "rope_scaling": rope,
                                          "rope_fraction": fraction}).positional
    expected, attention = hf_frequencies(rope, 32, 10000.0, fraction)
    ours = inverse_frequencies(ir.rope_base, ir.rotary_dim(32), ir.rope_scaling_rule)
    plain = inverse_frequencies(ir.rope_base, ir.rotary_dim(32), None)
    assert ours.shape == expected.shape == (int(32 * fraction) // 2,)
    assert torch.allclose(ours, expected, rtol=1e-5, atol=0)
    assert not torch.allclose(ours, plain)  # the rule changes some frequencies
    factor = ir.rope_scaling_rule.attention_factor
    assert factor == pytest.approx(attention)
    if rope["type"] == "yarn" and "attention_factor" not in rope:
        assert factor == pytest.approx(0.1 * math.log(4.0) + 1)


def test_linear_object_is_the_number():
    number = tiny_model(positional={"rope_scaling": 3.0})
    obj = tiny_model(positional={"rope_scaling": {"type": "linear", "factor": 3.0}})
    assert number.ir == obj.ir
    ids = tokens(1, 9)
    with torch.no_grad():
        assert torch.equal(number(ids), obj(ids))


def test_partial_rotary_leaves_the_tail_and_rotates_the_head_like_full_rope():
    head_dim = 8
    partial = tiny_ir(positional={"rope_fraction": 0.5}).positional
    q, k = torch.randn(2, 1, 2, 5, head_dim).unbind(0)
    positions = torch.tensor([[0, 2, 3, 9, 20]])
    q_rot, k_rot = rope_rotation(partial, head_dim)(q, k, positions)
    assert torch.equal(q_rot[..., 4:], q[..., 4:]) and torch.equal(k_rot[..., 4:], k[..., 4:])
    # The rotated part is full RoPE of a 4-dim head with θ_j = base^(-2j/4).
    theta = partial.rope_base ** (-torch.arange(0, 4, 2, dtype=torch.float64) / 4)
    angles = positions[0, :, None] * theta
    cos, sin = torch.cat((angles, angles), -1).cos().float(), torch.cat((angles, angles), -1).sin().float()
    x1, x2 = q[..., :2], q[..., 2:4]
    expected = q[..., :4] * cos + torch.cat((-x2, x1), -1) * sin
    assert torch.allclose(q_rot[..., :4], expected, atol=1e-5)


def test_interleaved_pairs_rotate_each_adjacent_pair_as_a_complex_number():
    head_dim = 8
    ir = tiny_ir(positional={"rope_pairing": "interleaved"}).positional
    q, k = torch.randn(2, 1, 1, 4, head_dim).unbind(0)
    positions = torch.tensor([[1, 4, 6, 11]])
    q_rot, _ = rope_rotation(ir, head_dim)(q, k, positions)
    theta = ir.rope_base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    phase = torch.exp(1j * positions[0, :, None] * theta).to(torch.complex64)
    expected = torch.view_as_complex(q.reshape(1, 1, 4, 4, 2).contiguous()) * phase
    assert torch.allclose(torch.view_as_real(expected).reshape(q.shape), q_rot, atol=1e-5)


def test_yarn_attention_factor_scales_scores_by_its_square_in_both_rotations():
    rule = dict(YARN, attention_factor=1.5)
    scaled = tiny_ir(positional={"rope_scaling": rule}).positional
    unit = tiny_ir(positional={"rope_scaling": dict(rule, attention_factor=1.0)}).positional
    q, k = torch.randn(2, 1, 1, 3, 8).unbind(0)
    positions = torch.tensor([[0, 5, 70]])
    for module in (rope_rotation, ComplexPhase):
        big_q, big_k = module(scaled, 8)(q, k, positions)
        small_q, small_k = module(unit, 8)(q, k, positions)
        scores = lambda a, b: a @ b.transpose(-1, -2)  # noqa: E731
        assert torch.allclose(scores(big_q, big_k), 2.25 * scores(small_q, small_k), atol=1e-4)


def test_compile_summary_names_the_rope_options():
    from light_llm.models.transformer.cost import model_cost
    from light_llm.models.transformer.summary import totals

    ir = tiny_ir(positional={"rope_fraction": 0.5, "rope_pairing": "interleaved",
                             "rope_scaling": dict(YARN, attention_factor=1.25)})
    line = [row for row in totals(ir, model_cost(ir)).plain.splitlines() if row.startswith("positional")]
    assert line == ["positional          rope (rotary fraction 0.5, interleaved pairs, "
                    "yarn scaling ×4 from 64, attention factor 1.25)"]


def test_compile_summary_shows_each_layers_mask_and_the_sliding_base():
    from light_llm.models.transformer.cost import model_cost
    from light_llm.models.transformer.summary import describe_attention, totals

    ir = tiny_ir(num_layers=3, attention={"mask_type": "sliding_window", "window_size": 4,
                                          "layer_pattern": ["causal", "sliding_window"]},
                 positional={"sliding_rope_base": 100.0})
    assert [describe_attention(block).split()[-2:] for block in ir.blocks] == [
        ["4q/1kv×8", "causal"], ["sliding_window", "w=4"], ["4q/1kv×8", "causal"]]
    assert "positional          rope (sliding-window layers base 100)" in totals(ir, model_cost(ir)).plain
    scaled = tiny_ir(num_layers=3, attention={"mask_type": "sliding_window", "window_size": 4,
                                              "layer_pattern": ["causal", "sliding_window"]},
                     positional={"rope_scaling": 2.0, "sliding_rope_base": 100.0})
    assert ("positional          rope (linear scaling ×2, sliding-window layers base 100 unscaled)"
            in totals(scaled, model_cost(scaled)).plain)
    assert [block.attention.positional.rope_scaling for block in scaled.blocks] == [2.0, 1.0, 2.0]
