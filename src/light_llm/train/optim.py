"""AdamW with weight decay on matrices only, and the warmup-then-cosine learning rate."""

from __future__ import annotations

import math

import torch

from light_llm.schemas.train import TrainConfig
from light_llm.train.speed import adamw_kernel


def build_optimizer(model: torch.nn.Module, train: TrainConfig) -> torch.optim.AdamW:
    """Matrices and embeddings (ndim ≥ 2) decay; biases and norm weights do not. The
    kernel is fused where torch has one for the parameters (train/speed.py)."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in parameters if p.ndim >= 2], "weight_decay": train.weight_decay},
        {"params": [p for p in parameters if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(
        [group for group in groups if group["params"]],
        lr=train.learning_rate,
        betas=(train.beta1, train.beta2),
        eps=1e-8,
        **adamw_kernel(parameters),
    )


def learning_rate(step: int, train: TrainConfig) -> float:
    """The rate for optimizer step `step` (0-based): linear warmup to the peak over
    warmup_steps, then cosine decay to min_lr_ratio × peak at the last step."""
    peak = train.learning_rate
    if step < train.warmup_steps:
        return peak * (step + 1) / train.warmup_steps
    decay_steps = max(1, train.steps - 1 - train.warmup_steps)
    progress = min(1.0, (step - train.warmup_steps) / decay_steps)
    floor = peak * train.min_lr_ratio
    return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def set_learning_rate(optimizer: torch.optim.Optimizer, rate: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = rate
