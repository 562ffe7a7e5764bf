"""Every option value of the models doc in a forward + backward pass: finite logits of the
right shape, a gradient reaching every parameter, and the option visible in the IR."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tiny_models import VOCAB, tiny_model, tokens

OPTION_VALUES = {
    "attention.variant=mha": {"attention": {"variant": "mha"}},
    "attention.variant=gqa": {"attention": {"variant": "gqa"}},
    "attention.variant=mqa": {"attention": {"variant": "mqa"}},
    "attention.variant=complex": {"attention": {"variant": "complex"}},
    "attention.num_heads=2": {"attention": {"num_heads": 2}},
    "attention.num_kv_heads=2": {"attention": {"num_kv_heads": 2}},
    "attention.head_dim=16": {"attention": {"head_dim": 16}},
    "attention.dropout=0.1": {"attention": {"dropout": 0.1}},
    "attention.bias=true": {"attention": {"bias": True}},
    "attention.mask_type=causal": {"attention": {"mask_type": "causal"}},
    "attention.mask_type=bidirectional": {"attention": {"mask_type": "bidirectional"}},
    "attention.mask_type=sliding_window": {"attention": {"mask_type": "sliding_window", "window_size": 3}},
    "attention.use_flash_attn=true": {"attention": {"use_flash_attn": True}},
    "positional.encoding=rope": {"positional": {"encoding": "rope"}},
    "positional.encoding=alibi": {"positional": {"encoding": "alibi"}},
    "positional.encoding=sinusoidal": {"positional": {"encoding": "sinusoidal"}},
    "positional.encoding=learned": {"positional": {"encoding": "learned"}},
    "positional.encoding=none": {"positional": {"encoding": "none"}},
    "positional.rope_base=500": {"positional": {"rope_base": 500.0}},
    "positional.rope_scaling=4": {"positional": {"rope_scaling": 4.0}},
    "positional.rope_scaling=llama3": {"positional": {"rope_scaling": {
        "type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8}}},
    "positional.rope_scaling=yarn": {"positional": {"rope_scaling": {
        "type": "yarn", "factor": 4.0, "original_max_position_embeddings": 8}}},
    "positional.rope_fraction=0.5": {"positional": {"rope_fraction": 0.5}},
    "positional.rope_pairing=interleaved": {"positional": {"rope_pairing": "interleaved"}},
    "ffn.variant=swiglu": {"ffn": {"variant": "swiglu"}},
    "ffn.variant=geglu": {"ffn": {"variant": "geglu"}},
    "ffn.variant=mlp": {"ffn": {"variant": "mlp"}},
    "ffn.expansion_factor=4": {"ffn": {"expansion_factor": 4.0}},
    "ffn.dropout=0.1": {"ffn": {"dropout": 0.1}},
    "ffn.activation=silu": {"ffn": {"variant": "mlp", "activation": "silu"}},
    "ffn.activation=gelu": {"ffn": {"variant": "mlp", "activation": "gelu"}},
    "ffn.activation=relu": {"ffn": {"variant": "mlp", "activation": "relu"}},
    "ffn.bias=true": {"ffn": {"bias": True}},
    "norm.type=rmsnorm": {"norm": {"type": "rmsnorm"}},
    "norm.type=layernorm": {"norm": {"type": "layernorm"}},
    "norm.eps=1e-3": {"norm": {"eps": 1e-3}},
    "norm.placement=pre": {"norm": {"placement": "pre"}},
    "norm.placement=post": {"norm": {"placement": "post"}},
    "norm.placement=sandwich": {"norm": {"placement": "sandwich"}},
    "tie_embeddings=false": {"tie_embeddings": False},
    "parallel_layers=true": {"parallel_layers": True},
    "dropout=0.1": {"dropout": 0.1},
    "init_std=0.05": {"init_std": 0.05},
    "residual_scaled_init=false": {"residual_scaled_init": False},
}


@pytest.mark.parametrize("option", OPTION_VALUES)
def test_forward_and_backward(option):
    overrides = OPTION_VALUES[option]
    model = tiny_model(**overrides).train()
    ids = tokens(2, 10)
    logits = model(ids)
    assert logits.shape == (2, 10, VOCAB) and torch.isfinite(logits).all()
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, VOCAB), ids[:, 1:].reshape(-1))
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, f"{name} received no gradient"
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, f"{name} has an all-zero gradient"


@pytest.mark.parametrize("option", ["attention.dropout=0.1", "ffn.dropout=0.1", "dropout=0.1"])
def test_dropout_is_active_in_training_only(option):
    model = tiny_model(**OPTION_VALUES[option])
    ids = tokens(1, 8)
    with torch.no_grad():
        assert torch.equal(model(ids), model(ids))
        model.train()
        assert not torch.equal(model(ids), model(ids))
