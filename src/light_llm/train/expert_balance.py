"""The training terms of a mixture of experts (model.ffn.moe) and how evenly it routes.

Each sparse layer keeps the router statistics of its last training forward
(models/transformer/moe.py); after each micro-batch the Trainer adds

    aux_loss_coef · E·Σₑ fₑ·Pₑ  +  z_loss_coef · mean(logsumexp(router logits)²)

of every sparse layer to the language-model loss, and logs in metrics.jsonl `aux_loss`
(that sum), `expert_load` (the busiest expert's routed tokens over the mean, in the
least balanced layer: 1 is perfect balance, E means one expert takes everything) and
`expert_tokens` (routed tokens per expert, per sparse layer). A dense model adds nothing."""

from __future__ import annotations

import torch
from torch import nn


def sparse_layers(model: nn.Module) -> list[nn.Module]:
    return [module for module in model.modules() if hasattr(module, "router_stats")]


def auxiliary_loss(layers: list[nn.Module]) -> torch.Tensor | None:
    """The weighted auxiliary losses of the layers' last forward (None: no sparse layer)."""
    terms = [layer.moe.aux_loss_coef * layer.router_stats.balance_loss
             + layer.moe.z_loss_coef * layer.router_stats.z_loss
             for layer in layers if layer.router_stats is not None]
    return torch.stack(terms).sum() if terms else None


class ExpertLoad:
    """Routed tokens per expert of each sparse layer, summed over a step's micro-batches."""

    def __init__(self, layers: list[nn.Module]):
        self.layers = layers
        self.counts: list[torch.Tensor] | None = None

    def add(self) -> None:
        counts = [layer.router_stats.tokens_per_expert for layer in self.layers]
        self.counts = counts if self.counts is None else [a + b for a, b in zip(self.counts, counts)]

    def metrics(self, aux_loss: float) -> dict:
        if self.counts is None:
            return {}
        load = max(float(count.max()) / max(float(count.float().mean()), 1e-9) for count in self.counts)
        return {"aux_loss": aux_loss, "expert_load": round(load, 4),
                "expert_tokens": [count.tolist() for count in self.counts]}
