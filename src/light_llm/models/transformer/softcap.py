"""Soft-capping (Gemma 2): x ↦ cap·tanh(x/cap), smooth and bounded by ±cap.

`SoftCap` caps the final logits; `SoftcapKernel` is the attention kernel of
`attention.logit_softcap`: scores = cap·tanh(scale·Q·Kᵀ / cap), then the mask (or the
causal rule), softmax and the weighted sum of V. SDPA cannot cap its scores, so this
kernel computes them explicitly.
"""

from __future__ import annotations

import torch
from torch import nn

from light_llm.models.transformer.attention import attend, expand_kv_heads
from light_llm.models.transformer.ir import AttentionIR


def soft_cap(x: torch.Tensor, cap: float) -> torch.Tensor:
    return torch.tanh(x / cap) * cap


class SoftCap(nn.Module):
    def __init__(self, cap: float):
        super().__init__()
        self.cap = cap

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return soft_cap(x, self.cap)

    def extra_repr(self) -> str:
        return f"cap={self.cap}"


def build_logit_cap(cap: float | None) -> nn.Module:
    return SoftCap(cap) if cap is not None else nn.Identity()


class SoftcapKernel(nn.Module):
    def __init__(self, ir: AttentionIR):
        super().__init__()
        assert ir.logit_softcap is not None
        self.groups = ir.num_heads // ir.num_kv_heads
        self.scale = ir.score_scale
        self.cap = ir.logit_softcap
        self.dropout = nn.Dropout(ir.dropout)
        self.is_causal = ir.mask_type != "bidirectional"

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        k, v = expand_kv_heads(k, self.groups), expand_kv_heads(v, self.groups)
        scores = soft_cap((q @ k.transpose(-2, -1)).float() * self.scale, self.cap)  # [B, H, S, T]
        return attend(scores, v, bias, self.is_causal, self.dropout)
