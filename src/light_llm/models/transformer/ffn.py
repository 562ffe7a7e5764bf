"""Feed-forward networks: gated (SwiGLU, GeGLU) and the two-layer MLP."""

import torch
import torch.nn.functional as F
from torch import nn

from light_llm.models.transformer.ir import FFNIR
from light_llm.models.transformer.linear import Linear

ACTIVATIONS = {"silu": F.silu, "gelu": F.gelu, "relu": F.relu}


class GatedFFN(nn.Module):
    """down(act(gate(x)) · up(x)): SwiGLU with SiLU, GeGLU with GELU."""

    def __init__(self, ir: FFNIR):
        super().__init__()
        self.gate_proj = Linear(ir.d_model, ir.hidden_dim, bias=ir.bias)
        self.up_proj = Linear(ir.d_model, ir.hidden_dim, bias=ir.bias)
        self.down_proj = Linear(ir.hidden_dim, ir.d_model, bias=ir.bias)
        self.activation = ACTIVATIONS[ir.activation]
        self.dropout = nn.Dropout(ir.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.activation(self.gate_proj(x)) * self.up_proj(x)
        return self.down_proj(self.dropout(hidden))

    @property
    def output_projection(self) -> nn.Linear:
        return self.down_proj


class MLP(nn.Module):
    """fc_out(act(fc_in(x)))."""

    def __init__(self, ir: FFNIR):
        super().__init__()
        self.fc_in = Linear(ir.d_model, ir.hidden_dim, bias=ir.bias)
        self.fc_out = Linear(ir.hidden_dim, ir.d_model, bias=ir.bias)
        self.activation = ACTIVATIONS[ir.activation]
        self.dropout = nn.Dropout(ir.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_out(self.dropout(self.activation(self.fc_in(x))))

    @property
    def output_projection(self) -> nn.Linear:
        return self.fc_out


def build_ffn(ir: FFNIR) -> nn.Module:
    return MLP(ir) if ir.variant == "mlp" else GatedFFN(ir)
