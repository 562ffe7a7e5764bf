"""logits[t] = MLP(concat(embed(tokens[t - context + 1 .. t]))), zero-padded at the start."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mlp_family.config import MLPLanguageModelIR


class MLPLanguageModel(nn.Module):
    def __init__(self, ir: MLPLanguageModelIR):
        super().__init__()
        self.ir = ir
        self.embed_tokens = nn.Embedding(ir.vocab_size, ir.d_model)
        self.fc_in = nn.Linear(ir.context * ir.d_model, ir.hidden)
        self.lm_head = nn.Linear(ir.hidden, ir.vocab_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = F.pad(self.embed_tokens(tokens), (0, 0, self.ir.context - 1, 0))  # [B, S + c - 1, d]
        windows = x.unfold(1, self.ir.context, 1)  # [B, S, d, c]
        return self.lm_head(torch.relu(self.fc_in(windows.transpose(-1, -2).flatten(-2))))
