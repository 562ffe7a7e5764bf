"""The auxiliary losses a mixture of experts adds in training, against the formulas of
docs/models.md computed here from the router's logits (captured by a hook)."""

from __future__ import annotations

import torch

from light_llm.models.transformer.config import TransformerConfig
from light_llm.models.transformer.model import Transformer
from light_llm.train.expert_balance import ExpertLoad, auxiliary_loss, sparse_layers


def test_auxiliary_loss_is_the_weighted_balance_and_z_losses_of_every_sparse_layer():
    torch.manual_seed(0)
    model = Transformer(TransformerConfig.model_validate(dict(
        vocab_size=40, d_model=24, num_layers=3, attention=dict(num_heads=3),
        ffn=dict(moe=dict(experts=4, experts_per_token=2, aux_loss_coef=0.3, z_loss_coef=0.05,
                          first_dense_layers=1))))).train()
    layers = sparse_layers(model)
    logits = []
    for layer in layers:
        layer.router.register_forward_hook(lambda module, inputs, output: logits.append(output.detach()))
    model(torch.randint(0, 40, (2, 9)))
    expected = 0.0
    for captured in logits:
        probabilities = captured.softmax(-1)
        chosen = probabilities.topk(2, dim=-1).indices
        share = torch.bincount(chosen.flatten(), minlength=4).float() / chosen.numel()
        balance = 4 * (share * probabilities.mean(0)).sum()
        z = torch.logsumexp(captured, -1).square().mean()
        expected += 0.3 * balance + 0.05 * z
    assert len(layers) == 2
    torch.testing.assert_close(auxiliary_loss(layers).detach(), torch.as_tensor(float(expected)), rtol=1e-5, atol=1e-6)
    load = ExpertLoad(layers)
    load.add()
    metrics = load.metrics(1.0)
    assert [sum(layer) for layer in metrics["expert_tokens"]] == [2 * 9 * 2] * 2
    assert 1.0 <= metrics["expert_load"] <= 4.0


def test_a_dense_model_adds_nothing():
    model = Transformer(TransformerConfig.model_validate(dict(vocab_size=40, d_model=24, num_layers=2,
                                                              attention=dict(num_heads=3)))).train()
    model(torch.randint(0, 40, (1, 5)))
    assert sparse_layers(model) == [] and auxiliary_loss([]) is None and ExpertLoad([]).metrics(0.0) == {}
