"""A model built with meta parameters (import-hf's) takes a state's tensors themselves:
no initialisation, no copy, buffers real, a tied head still the embedding."""

from __future__ import annotations

import torch

from light_llm.compiler.build import build
from light_llm.compiler.empty_build import assign_state, build_empty
from light_llm.models.transformer.config import TransformerConfig
from light_llm.models.transformer.lower import lower

TINY = {"vocab_size": 61, "d_model": 24, "num_layers": 2, "max_seq_len": 16,
        "attention": {"variant": "gqa", "num_heads": 3, "num_kv_heads": 1}}


def test_parameters_are_meta_and_buffers_real():
    model = build_empty(lower(TransformerConfig.model_validate(TINY)))
    assert all(p.device.type == "meta" for p in model.parameters())
    buffers = list(model.buffers())
    assert buffers and all(b.device.type == "cpu" for b in buffers)  # RoPE frequencies


def test_assigned_tensors_are_the_parameters_and_the_tied_head_stays_tied():
    ir = lower(TransformerConfig.model_validate(TINY))
    source = build(ir, seed=0).eval()
    state = source.state_dict()
    model = build_empty(ir).eval()
    missing, unexpected = assign_state(model, state)
    assert not missing and not unexpected
    assert model.embed_tokens.weight.data_ptr() == state["embed_tokens.weight"].data_ptr()  # not copied
    assert model.lm_head.weight is model.embed_tokens.weight
    assert model.num_parameters() == source.num_parameters()
    tokens = torch.randint(0, 61, (2, 9), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(model(tokens), source(tokens))


def test_a_slice_of_a_larger_tensor_is_copied_into_its_own_storage():
    ir = lower(TransformerConfig.model_validate({**TINY, "tie_embeddings": False}))
    state = dict(build(ir, seed=0).state_dict())
    fused = torch.cat([state["blocks.0.ffn.gate_proj.weight"], state["blocks.0.ffn.up_proj.weight"]])
    state["blocks.0.ffn.gate_proj.weight"], state["blocks.0.ffn.up_proj.weight"] = fused.chunk(2)
    model = build_empty(ir)
    assign_state(model, state)
    gate = model.blocks[0].ffn.gate_proj.weight
    assert gate.untyped_storage().nbytes() == gate.numel() * 4 and torch.equal(gate, fused[: gate.shape[0]])
