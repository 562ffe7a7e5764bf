"""What each option promises: masks, ALiBi slopes, block wiring, tying, norms per
sub-layer, FFN sizes, initialisation, complex attention and RoPE definitions."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from light_llm.compiler.build import build
from light_llm.models.transformer.cost import ffn_parameters
from light_llm.models.transformer.lower import lower, lower_ffn
from light_llm.models.transformer import Transformer, TransformerConfig
from light_llm.models.transformer.attention import ComplexKernel, SDPAKernel
from light_llm.models.transformer.config import FFNConfig
from light_llm.models.transformer.ffn import build_ffn
from light_llm.models.transformer.norm import RMSNorm
from light_llm.models.transformer.positional import ComplexPhase, RotaryEmbedding, alibi_slopes
from tiny_models import tiny_ir, tiny_model, tokens


def changed_positions(model, ids: torch.Tensor, position: int) -> torch.Tensor:
    """Which query positions' logits change when the token at `position` changes."""
    altered = ids.clone()
    altered[:, position] = (altered[:, position] + 1) % 61
    with torch.no_grad():
        return (model(ids) - model(altered)).abs().amax(dim=(0, 2)) > 1e-6


@pytest.mark.parametrize("variant", ["mha", "gqa", "mqa", "complex"])
@pytest.mark.parametrize("encoding", ["rope", "alibi", "learned"])
def test_causal_future_tokens_never_change_earlier_logits(variant, encoding):
    model = tiny_model(attention={"variant": variant}, positional={"encoding": encoding})
    changed = changed_positions(model, tokens(2, 10), position=6)
    assert not changed[:6].any()
    assert changed[6:].all()


@pytest.mark.parametrize("variant", ["mha", "complex"])
def test_bidirectional_future_tokens_change_earlier_logits(variant):
    model = tiny_model(attention={"variant": variant, "mask_type": "bidirectional"})
    assert changed_positions(model, tokens(2, 10), position=9).all()


@pytest.mark.parametrize("variant", ["gqa", "complex"])
def test_sliding_window_ignores_tokens_beyond_the_window(variant):
    """One layer, window 3: the query at position p sees p-2, p-1, p and nothing else."""
    model = tiny_model(attention={"variant": variant, "mask_type": "sliding_window", "window_size": 3},
                       num_layers=1)
    changed = changed_positions(model, tokens(2, 10), position=4)
    assert changed.tolist() == [False] * 4 + [True] * 3 + [False] * 3


def test_sliding_window_receptive_field_grows_with_depth():
    model = tiny_model(attention={"mask_type": "sliding_window", "window_size": 3}, num_layers=2)
    changed = changed_positions(model, tokens(2, 10), position=2)
    assert changed.tolist() == [False] * 2 + [True] * 5 + [False] * 3


def paper_slopes(n: int) -> list[float]:
    """Press et al. 2022, as in the paper's reference code."""
    def power_of_two(k: int) -> list[float]:
        return [2 ** (-8 * (i + 1) / k) for i in range(k)]

    if math.log2(n).is_integer():
        return power_of_two(n)
    closest = 2 ** math.floor(math.log2(n))
    return power_of_two(closest) + power_of_two(2 * closest)[0::2][: n - closest]


def test_alibi_slopes_follow_the_paper():
    assert alibi_slopes(8).tolist() == pytest.approx([2.0 ** -i for i in range(1, 9)])
    for heads in (1, 2, 4, 6, 12, 16):
        assert alibi_slopes(heads).tolist() == pytest.approx(paper_slopes(heads))


def test_alibi_adds_minus_slope_times_distance():
    model = tiny_model(positional={"encoding": "alibi"})
    bias = model.attention_bias(5, None, torch.device("cpu"), torch.float32)  # [1, H, 5, 5]
    slopes = torch.tensor(paper_slopes(4))
    for i in range(5):
        for j in range(i + 1):
            assert torch.allclose(bias[0, :, i, j], -slopes * (i - j))
    assert (bias[0, :, 0, 1:] == torch.finfo(torch.float32).min).all()


def test_parallel_layers_read_the_same_normalised_input():
    model = tiny_model(parallel_layers=True)
    sequential = tiny_model()
    block, x = model.blocks[0], torch.randn(1, 5, 32)
    positions = torch.arange(5)[None]
    with torch.no_grad():
        h = block.norm_in(x)
        expected = x + block.attention(h, positions, None)[0] + block.ffn(h)
        assert torch.allclose(block(x, positions, None, None)[0], expected, atol=1e-6)
        s = sequential.blocks[0]
        mid = x + s.attention(s.attention_norm_in(x), positions, None)[0]
        expected = mid + s.ffn(s.ffn_norm_in(mid))
        assert torch.allclose(s(x, positions, None, None)[0], expected, atol=1e-6)
    assert sum(isinstance(m, RMSNorm) for m in block.modules()) == 1


def test_tie_embeddings_shares_one_tensor():
    tied, untied = tiny_model(), tiny_model(tie_embeddings=False)
    assert tied.lm_head.weight is tied.embed_tokens.weight
    assert untied.lm_head.weight.data_ptr() != untied.embed_tokens.weight.data_ptr()
    assert untied.num_parameters() - tied.num_parameters() == 61 * 32


@pytest.mark.parametrize("placement,parallel,norms", [
    ("pre", False, 2), ("post", False, 2), ("sandwich", False, 4),
    ("pre", True, 1), ("post", True, 1), ("sandwich", True, 3),
    ("output", False, 2), ("output", True, 2), ("pre", "separate", 2), ("sandwich", "separate", 4),
])
def test_norms_per_block_and_each_is_used(placement, parallel, norms):
    wiring = {"parallel_layers": True, "parallel_norms": "separate"} if parallel == "separate" \
        else {"parallel_layers": parallel}
    model = tiny_model(norm={"placement": placement}, **wiring)
    block_norms = [m for m in model.blocks[0].modules() if isinstance(m, RMSNorm)]
    assert len(block_norms) == norms
    calls = []
    for norm in block_norms:
        norm.register_forward_hook(lambda *_: calls.append(1))
    model(tokens(1, 4))
    assert len(calls) == norms
    assert isinstance(model.final_norm, nn.Identity) == (placement == "post")


def test_sandwich_normalises_each_sub_layer_output():
    model = tiny_model(norm={"placement": "sandwich", "eps": 1e-12})  # outputs are ~1e-3
    block = model.blocks[0]
    outputs = []
    block.attention_norm_out.register_forward_hook(lambda m, i, o: outputs.append(o))
    block.ffn_norm_out.register_forward_hook(lambda m, i, o: outputs.append(o))
    model(tokens(1, 4))
    for out in outputs:  # RMSNorm with unit weight: mean square 1
        assert torch.allclose(out.pow(2).mean(-1), torch.ones(1, 4), atol=1e-4)


def test_swiglu_at_8_thirds_has_the_parameters_of_a_4x_mlp():
    d_model = 384
    swiglu = build_ffn(lower_ffn(FFNConfig(variant="swiglu", expansion_factor=2.6667), d_model))
    mlp = build_ffn(lower_ffn(FFNConfig(variant="mlp", expansion_factor=4.0), d_model))
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    assert count(swiglu) == pytest.approx(count(mlp), rel=0.01)
    assert count(mlp) == ffn_parameters(lower_ffn(FFNConfig(variant="mlp", expansion_factor=4.0), d_model))


@pytest.mark.parametrize("residual_scaled_init", [True, False])
def test_initialisation_std(residual_scaled_init):
    num_layers, std = 4, 0.05
    ir = lower(TransformerConfig(vocab_size=512, d_model=128, num_layers=num_layers, init_std=std,
                                 residual_scaled_init=residual_scaled_init, tie_embeddings=False,
                                 attention={"bias": True}, ffn={"bias": True}))
    model = build(ir, seed=0)
    residual_std = std / math.sqrt(2 * num_layers) if residual_scaled_init else std
    for name, parameter in model.named_parameters():
        if name.endswith("bias"):
            assert (parameter == 0).all(), name
        elif "norm" in name:
            assert (parameter == 1).all(), name
        else:
            expected = residual_std if name.endswith(("o_proj.weight", "down_proj.weight")) else std
            assert parameter.std().item() == pytest.approx(expected, rel=0.05), name
            assert parameter.mean().abs().item() < expected * 0.05, name


def test_build_is_seeded():
    ir = tiny_ir()
    first, second, other = build(ir, seed=7), build(ir, seed=7), build(ir, seed=8)
    state = first.state_dict()
    assert all(torch.equal(state[k], v) for k, v in second.state_dict().items())
    assert not torch.equal(state["embed_tokens.weight"], other.state_dict()["embed_tokens.weight"])


def test_complex_scores_are_real_part_of_hermitian_product():
    """head_dim counts reals; a complex head holds head_dim/2 complex numbers, (re | im)
    halves; scores are Re(Q·K̄)/√head_dim, V is real."""
    ir = tiny_ir(attention={"variant": "complex", "mask_type": "bidirectional"}).blocks[0].attention
    q, k, v = torch.randn(3, 1, 4, 5, 8).unbind(0)
    qc, kc = torch.complex(q[..., :4], q[..., 4:]), torch.complex(k[..., :4], k[..., 4:])
    scores = torch.einsum("bhsd,bhtd->bhst", qc, kc.conj()).real / math.sqrt(8)
    expected = scores.softmax(-1) @ v
    assert torch.allclose(ComplexKernel(ir)(q, k, v, None), expected, atol=1e-6)
    assert torch.allclose(SDPAKernel(ir)(q, k, v, None), expected, atol=1e-6)  # export lowering


def test_complex_rope_is_multiplication_by_a_phase():
    ir = tiny_ir(attention={"variant": "complex"}).positional
    head_dim, base = 8, ir.rope_base
    q, k = torch.randn(2, 1, 2, 3, head_dim).unbind(0)
    positions = torch.tensor([[0, 3, 7]])
    q_rot, k_rot = ComplexPhase(ir, head_dim)(q, k, positions)
    theta = base ** (-torch.arange(0, head_dim, 2) / head_dim)  # [D/2]
    phase = torch.exp(1j * positions[0, :, None] * theta)  # [S, D/2]
    expected = torch.complex(q[..., :4], q[..., 4:]) * phase
    assert torch.allclose(torch.complex(q_rot[..., :4], q_rot[..., 4:]), expected, atol=1e-5)
    # The same rotation as real RoPE in the half-split layout.
    real_q, real_k = RotaryEmbedding(ir, head_dim)(q, k, positions)
    assert torch.allclose(real_q, q_rot, atol=1e-5) and torch.allclose(real_k, k_rot, atol=1e-5)


def test_rope_scores_depend_on_relative_position_and_scaling_divides_positions():
    ir = tiny_ir().positional
    scaled = tiny_ir(positional={"rope_scaling": 2.0}).positional
    q, k = torch.randn(2, 1, 1, 1, 8).unbind(0)
    score = lambda rope, p_q, p_k: (rope(q, k, torch.tensor([[p_q]]))[0]  # noqa: E731
                                    * rope(q, k, torch.tensor([[p_k]]))[1]).sum()
    plain, stretched = RotaryEmbedding(ir, 8), RotaryEmbedding(scaled, 8)
    assert score(plain, 5, 2) == pytest.approx(score(plain, 13, 10).item(), abs=1e-5)
    assert score(plain, 5, 2) != pytest.approx(score(plain, 5, 4).item(), abs=1e-3)
    assert stretched(q, k, torch.tensor([[6]]))[0].allclose(plain(q, k, torch.tensor([[3]]))[0], atol=1e-6)


def test_quick_instantiation_from_the_doc_prints_parameters_and_settings():
    config = TransformerConfig(vocab_size=50257, d_model=512, num_layers=6)
    model = Transformer(config)
    text = repr(model)
    assert f"{model.num_parameters():,} parameters" in text
    for setting in ("gqa (8 heads, 2 kv, head_dim 64, causal", "positional rope", "ffn swiglu",
                    "norm rmsnorm pre", "tied True"):
        assert setting in text
    assert model.num_parameters() == 50257 * 512 + 6 * (
        512 * 512 * 2 + 2 * 512 * 128 + 3 * 512 * 1368 + 2 * 512) + 512


def test_parallel_separate_norms_give_each_sub_layer_its_own_input_norm():
    model = tiny_model(parallel_layers=True, parallel_norms="separate")
    block, x, positions = model.blocks[0], torch.randn(1, 5, 32), torch.arange(5)[None]
    with torch.no_grad():
        block.ffn_norm_in.weight.mul_(3.0)  # the two norms differ, so swapping them shows
        expected = (x + block.attention(block.attention_norm_in(x), positions, None)[0]
                    + block.ffn(block.ffn_norm_in(x)))
        assert torch.allclose(block(x, positions, None, None)[0], expected, atol=1e-6)


def test_output_placement_normalises_sub_layer_outputs_only():
    model = tiny_model(norm={"placement": "output"})
    block, x, positions = model.blocks[0], torch.randn(1, 5, 32), torch.arange(5)[None]
    with torch.no_grad():
        mid = x + block.attention_norm_out(block.attention(x, positions, None)[0])
        expected = mid + block.ffn_norm_out(block.ffn(mid))
        assert torch.allclose(block(x, positions, None, None)[0], expected, atol=1e-6)
    assert isinstance(block.attention_norm_in, nn.Identity) and isinstance(model.final_norm, RMSNorm)


def test_gelu_tanh_is_transformers_gelu_new_in_mlp_and_geglu():
    from transformers.activations import NewGELUActivation

    x = torch.randn(4, 32)
    for ffn in ({"variant": "mlp", "activation": "gelu_tanh"}, {"variant": "geglu", "activation": "gelu_tanh"}):
        module = build_ffn(lower_ffn(FFNConfig.model_validate(ffn), 32))
        hidden = module.fc_in(x) if ffn["variant"] == "mlp" else module.gate_proj(x)
        assert torch.allclose(module.activation(hidden), NewGELUActivation()(hidden), atol=1e-6)
        assert not torch.allclose(module.activation(hidden), torch.nn.functional.gelu(hidden), atol=1e-5)
    assert lower_ffn(FFNConfig.model_validate({"variant": "geglu"}), 32).activation == "gelu"


@pytest.mark.parametrize("tied", [True, False])
def test_lm_head_bias_is_added_to_the_logits_and_never_tied(tied):
    model = tiny_model(lm_head_bias=True, tie_embeddings=tied)
    plain = tiny_model(tie_embeddings=tied)
    assert (model.lm_head.weight is model.embed_tokens.weight) == tied
    assert model.num_parameters() - plain.num_parameters() == 61
    model.load_state_dict(plain.state_dict(), strict=False)  # the same weights, plus the bias
    with torch.no_grad():
        model.lm_head.bias.copy_(torch.arange(61.0))
        ids = tokens(1, 4)
        assert torch.allclose(model(ids), plain(ids) + torch.arange(61.0), atol=1e-5)
