"""The model's constant factors, each an nn.Identity where it is 1:
- `model.embedding_scale`: the token embeddings times a constant (Gemma: √d_model,
  Granite: embedding_multiplier); a tied LM head reads the unscaled table;
- `model.residual_scale`: each sub-layer's output times a constant before the residual
  add (Granite: residual_multiplier);
- `model.logit_divisor`: the logits divided by a constant (Granite: logits_scaling).
Each constant is cast to the tensor's dtype first, as Gemma and Granite do."""

from __future__ import annotations

import torch
from torch import nn


class ConstantScale(nn.Module):
    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.tensor(self.scale, dtype=x.dtype)

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


class ConstantDivisor(nn.Module):
    def __init__(self, divisor: float):
        super().__init__()
        self.divisor = divisor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / torch.tensor(self.divisor, dtype=x.dtype)

    def extra_repr(self) -> str:
        return f"divisor={self.divisor}"


def build_scale(scale: float) -> nn.Module:
    return ConstantScale(scale) if scale != 1.0 else nn.Identity()


def build_divisor(divisor: float) -> nn.Module:
    return ConstantDivisor(divisor) if divisor != 1.0 else nn.Identity()
