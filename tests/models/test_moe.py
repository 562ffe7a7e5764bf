"""The mixture-of-experts FFN (model.ffn.moe): its output against a per-token reference
written from the docs' formula, its parameter count against the cost model (total and
active), which layers are sparse, and the spec's refusals (one line per mistake)."""

from __future__ import annotations

import pytest
import torch

from light_llm.models.transformer.config import TransformerConfig
from light_llm.models.transformer.cost import model_cost
from light_llm.models.transformer.model import Transformer


def config(**moe) -> TransformerConfig:
    return TransformerConfig.model_validate(dict(
        vocab_size=40, d_model=24, num_layers=3, attention=dict(num_heads=3, num_kv_heads=1),
        ffn=dict(expansion_factor=2.0, moe=dict(experts=5, experts_per_token=2) | moe)))


def per_token_reference(layer, x: torch.Tensor) -> torch.Tensor:
    """y = Σ over the chosen k of wₑ·expertₑ(x) (+ the gated shared FFN), token by token."""
    moe = layer.moe
    rows = []
    for token in x.reshape(-1, x.shape[-1]):
        logits = layer.router(token)
        if moe.router == "topk_softmax":
            top, chosen = logits.topk(moe.experts_per_token)
            weights = top.softmax(-1)
        else:
            weights, chosen = logits.softmax(-1).topk(moe.experts_per_token)
            weights = weights / weights.sum() if moe.normalize_topk else weights
        row = sum(w * layer.experts[int(e)](token) for w, e in zip(weights, chosen))
        if layer.shared is not None:
            gate = torch.sigmoid(layer.shared_gate(token)) if layer.shared_gate is not None else 1.0
            row = row + gate * layer.shared(token)
        rows.append(row)
    return torch.stack(rows).reshape(x.shape)


@pytest.mark.parametrize("moe", [
    dict(),
    dict(router="topk_softmax", experts_per_token=3),
    dict(normalize_topk=False, shared_experts=2, shared_expert_gate=True, router_bias=True),
], ids=["softmax-topk-normalized", "topk-softmax", "unnormalized-shared-gated-bias"])
def test_batched_experts_equal_the_per_token_formula(moe):
    torch.manual_seed(0)
    model = Transformer(config(**moe)).eval()
    for parameter in model.parameters():  # biases away from zero, so a dropped bias shows
        torch.nn.init.normal_(parameter, std=0.3)
    layer = model.blocks[0].ffn
    x = torch.randn(2, 7, 24)
    torch.testing.assert_close(layer(x), per_token_reference(layer, x), rtol=1e-5, atol=1e-5)


def test_parameters_total_and_active_match_the_cost_model():
    cfg = config(shared_experts=1, shared_expert_gate=True, first_dense_layers=1)
    model, cost = Transformer(cfg), model_cost(Transformer(cfg).ir)
    assert model.num_parameters() == cost.parameters
    expert = 3 * 24 * 48  # swiglu, hidden 48
    # every sparse layer (2 of 3) holds 5 experts, a token uses 2 of them
    assert cost.parameters - cost.active_parameters == 2 * (5 - 2) * expert
    dense = model_cost(Transformer(TransformerConfig.model_validate(
        dict(vocab_size=40, d_model=24, num_layers=3, attention=dict(num_heads=3, num_kv_heads=1),
             ffn=dict(expansion_factor=2.0)))).ir)
    # FLOPs over the active experts: 2 routed + 1 shared per sparse layer, the router and the gate
    per_sparse_layer = 2 * ((2 + 1 - 1) * expert + 24 * (5 + 1))
    assert cost.forward_flops_per_token - dense.forward_flops_per_token == 2 * per_sparse_layer


def test_sparse_layers_follow_first_dense_layers_and_sparse_every():
    ir = Transformer(TransformerConfig.model_validate(dict(
        vocab_size=40, d_model=24, num_layers=6, attention=dict(num_heads=3),
        ffn=dict(moe=dict(experts=4, sparse_every=2, first_dense_layers=2))))).ir
    assert [block.ffn.moe is not None for block in ir.blocks] == [False, False, False, True, False, True]


def test_training_records_router_statistics():
    model = Transformer(config()).train()
    model(torch.randint(0, 40, (2, 6)))
    stats = model.blocks[0].ffn.router_stats
    assert int(stats.tokens_per_expert.sum()) == 2 * 6 * 2
    assert stats.balance_loss.requires_grad and stats.z_loss.requires_grad
    assert float(stats.balance_loss.detach()) > 0 and float(stats.z_loss.detach()) > 0


@pytest.mark.parametrize("moe, message", [
    (dict(experts=3, experts_per_token=4), "ffn.moe.experts_per_token: 4 exceeds experts=3"),
    (dict(experts=3, shared_expert_gate=True), "ffn.moe.shared_expert_gate: needs shared_experts ≥ 1"),
    (dict(experts=3, router="topk_softmax", normalize_topk=False), "ffn.moe.normalize_topk: false only with router"),
    (dict(experts=3, first_dense_layers=3), "ffn.moe: no layer is sparse"),
])
def test_bad_moe_specs_are_refused_in_one_line(moe, message):
    from light_llm.schemas.errors import SpecError
    from light_llm.schemas.load import load_spec

    model = dict(vocab_size=40, d_model=24, num_layers=3, attention=dict(num_heads=3), ffn=dict(moe=moe))
    with pytest.raises(SpecError) as error:
        load_spec({"spec_version": 1, "model": model})
    header, *lines = str(error.value).splitlines()
    assert header.endswith("1 error") and lines[0].strip().startswith(f"model.{message}")


def test_bf16_autocast_forward_and_backward():
    """train.precision bf16: experts return bf16 into the fp32 sum."""
    model = Transformer(config(shared_experts=1)).train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(torch.randint(0, 40, (2, 6)))
    logits.float().sum().backward()
    assert model.blocks[0].ffn.experts[0].gate_proj.weight.grad is not None


def test_compile_report_shows_total_and_active_parameters():
    import io

    from rich.console import Console

    from light_llm.models.transformer.summary import summary

    ir = Transformer(config()).ir
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(summary(ir))
    text = console.export_text()
    cost = model_cost(ir)
    assert f"parameters          {cost.parameters:,}" in text
    assert f"active parameters   {cost.active_parameters:,}" in text
    assert "moe top-2/5 × swiglu 48 (silu)" in text
