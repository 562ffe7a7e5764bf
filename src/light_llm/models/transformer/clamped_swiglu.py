"""gpt-oss's clamped SwiGLU (`ffn.variant: clamped_swiglu`): with α = ffn.swiglu_alpha and
L = ffn.swiglu_limit,

    g = min(gate(x), L),  u = clamp(up(x), −L, L)
    y = down(g·σ(α·g) · (u + 1))

The gate's activation is SiLU's family member x·σ(αx) (α = 1.702 is the sigmoid
approximation of GELU); the clamps bound the product. Hugging Face stores gate and up
interleaved in one gate_up_proj (gate the even columns); here they are two Linears."""

import torch

from light_llm.models.transformer.ffn import GatedFFN
from light_llm.models.transformer.ir import FFNIR


class ClampedSwiGLU(GatedFFN):
    def __init__(self, ir: FFNIR):
        super().__init__(ir)
        self.alpha = ir.swiglu_alpha
        self.limit = ir.swiglu_limit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.gate_proj(x).clamp(max=self.limit)
        up = self.up_proj(x).clamp(-self.limit, self.limit)
        hidden = gate * torch.sigmoid(gate * self.alpha) * (up + 1)
        return self.down_proj(self.dropout(hidden))
