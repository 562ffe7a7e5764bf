"""The causal MLP-Mixer, built from its IR:

    x = embed(tokens)
    per layer:  x = x + W_l[:S, :S] · norm(x)        (W_l lower triangular: causal)
                x = x + MLP(norm(x))
    logits = lm_head(norm(x))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from light_llm.errors import LightLLMError
from light_llm.models.mixer.config import MixerIR
from light_llm.models.tracing import is_tracing


class SequenceTooLong(LightLLMError):
    """More tokens than the token-mixing matrices have rows."""


class CausalTokenMixing(nn.Module):
    """y[t] = Σ_{s ≤ t} W[t, s] · x[s]; initialised to the running mean of x[0..t]."""

    def __init__(self, max_seq_len: int):
        super().__init__()
        causal = torch.ones(max_seq_len, max_seq_len).tril()
        self.weight = nn.Parameter(causal / causal.sum(-1, keepdim=True))
        self.register_buffer("causal", causal, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq = x.shape[1]
        return (self.weight * self.causal)[:seq, :seq] @ x  # [S, S] @ [B, S, d]


class MixerLayer(nn.Module):
    def __init__(self, ir: MixerIR):
        super().__init__()
        self.token_norm = nn.LayerNorm(ir.d_model)
        self.token_mixing = CausalTokenMixing(ir.max_seq_len)
        self.channel_norm = nn.LayerNorm(ir.d_model)
        self.fc_in = nn.Linear(ir.d_model, ir.hidden_dim)
        self.fc_out = nn.Linear(ir.hidden_dim, ir.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.token_mixing(self.token_norm(x))
        return x + self.fc_out(F.gelu(self.fc_in(self.channel_norm(x))))


class Mixer(nn.Module):
    def __init__(self, ir: MixerIR):
        super().__init__()
        self.ir = ir
        self.embed_tokens = nn.Embedding(ir.vocab_size, ir.d_model)
        self.layers = nn.ModuleList(MixerLayer(ir) for _ in range(ir.num_layers))
        self.final_norm = nn.LayerNorm(ir.d_model)
        self.lm_head = nn.Linear(ir.d_model, ir.vocab_size, bias=False)
        linears = [linear for layer in self.layers for linear in (layer.fc_in, layer.fc_out)]
        for parameter in (self.embed_tokens.weight, self.lm_head.weight, *(l.weight for l in linears)):
            nn.init.normal_(parameter, mean=0.0, std=ir.init_std)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: [B, S] int64 → logits [B, S, vocab_size]; position t reads tokens ≤ t."""
        if not is_tracing() and tokens.shape[1] > self.ir.max_seq_len:
            raise SequenceTooLong(
                f"{tokens.shape[1]} tokens, but a mixer with max_seq_len={self.ir.max_seq_len} "
                f"takes at most {self.ir.max_seq_len}"
            )
        x = self.embed_tokens(tokens)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.final_norm(x))
