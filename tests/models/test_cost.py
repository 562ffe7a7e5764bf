"""Costs from the IR alone equal what the built module has and does: its parameter
count, the FLOPs torch's flop counter measures, and the bytes of its KV cache."""

from __future__ import annotations

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from light_llm.compiler.build import build
from light_llm.models.transformer.cost import model_cost
from light_llm.models.transformer.lower import lower
from light_llm.models.transformer.config import TransformerConfig

TINY = {"vocab_size": 53, "d_model": 32, "num_layers": 2, "max_seq_len": 16}
SHAPES = {
    "defaults": {},
    "mha-bias-learned-untied": {"attention": {"variant": "mha", "num_heads": 4, "bias": True},
                                "positional": {"encoding": "learned"}, "tie_embeddings": False},
    "mqa-head_dim-mlp-bias": {"attention": {"variant": "mqa", "num_heads": 4, "head_dim": 16},
                              "ffn": {"variant": "mlp", "bias": True, "expansion_factor": 3.0}},
    "complex-geglu-layernorm": {"attention": {"variant": "complex", "num_heads": 2},
                                "ffn": {"variant": "geglu"}, "norm": {"type": "layernorm"}},
    "post": {"norm": {"placement": "post", "type": "layernorm"}},
    "sandwich": {"norm": {"placement": "sandwich"}},
    "parallel-sandwich-layernorm": {"parallel_layers": True,
                                    "norm": {"placement": "sandwich", "type": "layernorm"}},
    "parallel-post": {"parallel_layers": True, "norm": {"placement": "post"}},
    "sliding-alibi": {"attention": {"mask_type": "sliding_window", "window_size": 4},
                      "positional": {"encoding": "alibi"}},
    "output-norm-head-bias-tied": {"norm": {"placement": "output"}, "lm_head_bias": True},
    "output-norm-parallel-layernorm": {"parallel_layers": True,
                                       "norm": {"placement": "output", "type": "layernorm"}},
    "parallel-separate-norms-head-bias-untied": {
        "parallel_layers": True, "parallel_norms": "separate", "norm": {"type": "layernorm"},
        "lm_head_bias": True, "tie_embeddings": False},
    "parallel-separate-sandwich-geglu-tanh": {
        "parallel_layers": True, "parallel_norms": "separate", "norm": {"placement": "sandwich"},
        "ffn": {"variant": "geglu", "activation": "gelu_tanh"}},
    "qkv-bias-qk-norm-per-head-softcap": {
        "attention": {"num_heads": 4, "num_kv_heads": 2, "bias": "qkv", "qk_norm": "per_head",
                      "scale": 0.3, "logit_softcap": 20.0},
        "final_logit_softcap": 10.0, "embedding_scale": "sqrt_d_model"},
    "qk-norm-whole-layernorm-bias": {
        "attention": {"num_heads": 4, "num_kv_heads": 1, "bias": True, "qk_norm": "whole"},
        "norm": {"type": "layernorm"}},
    "sinks-clamped-swiglu": {"attention": {"num_heads": 4, "num_kv_heads": 2, "sinks": True},
                             "ffn": {"variant": "clamped_swiglu"}},
    "rope-yarn-partial-interleaved": {"positional": {
        "rope_fraction": 0.5, "rope_pairing": "interleaved",
        "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 8}}},
}


def ir_for(shape: str, target="eager"):
    return lower(TransformerConfig.model_validate({**TINY, **SHAPES[shape]}), target=target)


@pytest.mark.parametrize("shape", SHAPES)
def test_parameter_count_equals_the_module(shape):
    ir = ir_for(shape)
    model = build(ir)
    cost = model_cost(ir)
    assert cost.parameters == sum(p.numel() for p in model.parameters())
    assert sum(layer.parameters for layer in cost.layers) == sum(
        p.numel() for p in model.blocks.parameters()
    )


@pytest.mark.parametrize("shape", ["defaults", "mqa-head_dim-mlp-bias", "complex-geglu-layernorm",
                                   "parallel-sandwich-layernorm", "sliding-alibi",
                                   "parallel-separate-norms-head-bias-untied",
                                   "qkv-bias-qk-norm-per-head-softcap", "sinks-clamped-swiglu",
                                   "rope-yarn-partial-interleaved"])
def test_flops_equal_torch_flop_counter(shape):
    """The flop counter sees matmuls; SDPA's math backend makes attention visible to it.
    Complex attention is counted as its export lowering (real pairs)."""
    ir = ir_for(shape, target="export")
    model = build(ir, seed=0)
    batch, seq = 2, 16
    ids = torch.randint(0, ir.vocab_size, (batch, seq))
    cost = model_cost(ir, context=seq)
    with sdpa_kernel(SDPBackend.MATH):
        with FlopCounterMode(display=False) as forward:
            model(ids)
        with FlopCounterMode(display=False) as training:
            model(ids).sum().backward()
    assert forward.get_total_flops() == cost.forward_flops_per_token * batch * seq
    assert training.get_total_flops() == cost.training_flops_per_token * batch * seq


@pytest.mark.parametrize("shape", ["defaults", "mqa-head_dim-mlp-bias", "complex-geglu-layernorm"])
def test_kv_cache_bytes_equal_the_present_tensors(shape):
    ir = ir_for(shape)
    model = build(ir).eval()
    tokens = 5
    with torch.no_grad():
        _, presents = model.forward_with_cache(
            torch.zeros(1, tokens, dtype=torch.long), torch.ones(1, tokens, dtype=torch.long),
            torch.arange(tokens)[None], model.empty_cache(1),
        )
    measured = sum(t.numel() * t.element_size() for kv in presents for t in kv)
    assert model_cost(ir).kv_cache_bytes(tokens) == measured


def test_flops_grow_with_context_by_the_attention_term():
    ir = ir_for("defaults")
    attention = ir.blocks[0].attention
    extra = model_cost(ir, context=11).forward_flops_per_token - model_cost(ir, context=10).forward_flops_per_token
    assert extra == ir.num_layers * 4 * attention.num_heads * attention.head_dim
