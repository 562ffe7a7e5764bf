"""`model.embedding_scale`: the token embeddings times a constant (Gemma: √d_model), the
constant cast to the embeddings' dtype first, as Gemma does. A tied LM head reads the
unscaled table."""

from __future__ import annotations

import torch
from torch import nn


class EmbeddingScale(nn.Module):
    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.tensor(self.scale, dtype=x.dtype)

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


def build_embedding_scale(scale: float) -> nn.Module:
    return EmbeddingScale(scale) if scale != 1.0 else nn.Identity()
