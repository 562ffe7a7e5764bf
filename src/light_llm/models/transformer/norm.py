"""RMSNorm and LayerNorm."""

import torch
from torch import nn

from light_llm.models.transformer.ir import NormIR
from light_llm.models.transformer.options import NORMS, resolve_path


class RMSNorm(nn.Module):
    """x / sqrt(mean(x²) + eps) · weight, computed in fp32 (as Llama does)."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        normed = x32 / torch.sqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * normed.to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"


def build_norm(ir: NormIR) -> nn.Module:
    return resolve_path(NORMS[ir.type].module)(ir.dim, ir.eps)
