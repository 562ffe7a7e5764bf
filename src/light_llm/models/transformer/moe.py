"""The mixture-of-experts FFN (model.ffn.moe): a router scores every expert per token,
the top k experts (each an FFN of the spec's variant) run on the tokens routed to them,
and their outputs, weighted by the router, are added back; shared experts see every token.

Experts run one after another over the tokens routed to each (gathered, then index_add'ed
back), never per token. In training the module keeps its router statistics of the last
forward (`router_stats`) for the Trainer's auxiliary losses and its balance metrics."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from light_llm.models.transformer.ffn import build_ffn
from light_llm.models.transformer.ir import FFNIR, MoEIR
from light_llm.models.transformer.linear import Linear


@dataclass
class RouterStats:
    """Of one forward in training: the auxiliary losses and how many routed slots each
    expert took."""

    balance_loss: torch.Tensor  # E·Σₑ fₑ·Pₑ: 1 when the routing is uniform
    z_loss: torch.Tensor  # mean over tokens of logsumexp(logits)²
    tokens_per_expert: torch.Tensor  # [E], summing to tokens·k


def route(logits: torch.Tensor, moe: MoEIR) -> tuple[torch.Tensor, torch.Tensor]:
    """Router logits [N, E] → (weights [N, k] in the logits' dtype, expert indices [N, k])."""
    if moe.router == "topk_softmax":
        top, chosen = torch.topk(logits, moe.experts_per_token, dim=-1)
        return torch.softmax(top.float(), dim=-1).to(logits.dtype), chosen
    probabilities = torch.softmax(logits.float(), dim=-1)
    top, chosen = torch.topk(probabilities, moe.experts_per_token, dim=-1)
    if moe.normalize_topk:
        top = top / top.sum(dim=-1, keepdim=True)
    return top.to(logits.dtype), chosen


def router_stats(logits: torch.Tensor, chosen: torch.Tensor, experts: int) -> RouterStats:
    probabilities = torch.softmax(logits.float(), dim=-1)
    counts = torch.bincount(chosen.reshape(-1), minlength=experts)
    share = counts.float() / chosen.numel()
    return RouterStats(
        balance_loss=experts * (share * probabilities.mean(dim=0)).sum(),
        z_loss=torch.logsumexp(logits.float(), dim=-1).square().mean(),
        tokens_per_expert=counts.detach(),
    )


class MixtureOfExperts(nn.Module):
    def __init__(self, ir: FFNIR):
        super().__init__()
        self.moe = ir.moe
        self.router = Linear(ir.d_model, ir.moe.experts, bias=ir.moe.router_bias)
        self.experts = nn.ModuleList(build_ffn(ir.expert) for _ in range(ir.moe.experts))
        self.shared = build_ffn(ir.shared) if ir.shared is not None else None
        self.shared_gate = Linear(ir.d_model, 1, bias=False) if ir.moe.shared_expert_gate else None
        self.router_stats: RouterStats | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        logits = self.router(flat)
        weights, chosen = route(logits, self.moe)
        out = torch.zeros_like(flat)
        for index, expert in enumerate(self.experts):
            token, slot = torch.where(chosen == index)
            routed = expert(flat[token]) * weights[token, slot].unsqueeze(-1)
            out = out.index_add(0, token, routed.to(out.dtype))  # bf16 under autocast
        if self.shared is not None:
            shared = self.shared(flat)
            out = out + (shared if self.shared_gate is None else torch.sigmoid(self.shared_gate(flat)) * shared)
        if self.training:
            self.router_stats = router_stats(logits, chosen, self.moe.experts)
        return out.reshape(x.shape)

    @property
    def output_projections(self) -> list[nn.Linear]:
        """The projections that write into the residual stream (scaled init)."""
        shared = [self.shared.output_projection] if self.shared is not None else []
        return [expert.output_projection for expert in self.experts] + shared
