"""Feed-forward networks: gated (SwiGLU, GeGLU) and the two-layer MLP."""

import torch
from torch import nn

from light_llm.models.transformer.ir import FFNIR
from light_llm.models.transformer.linear import Linear
from light_llm.models.transformer.options import ACTIVATIONS, FFN_VARIANTS, MIXTURE_OF_EXPERTS, resolve_path


def activation_function(name: str):
    return resolve_path(ACTIVATIONS[name].function)


class GatedFFN(nn.Module):
    """down(act(gate(x)) · up(x)): SwiGLU with SiLU, GeGLU with GELU."""

    def __init__(self, ir: FFNIR):
        super().__init__()
        self.gate_proj = Linear(ir.d_model, ir.hidden_dim, bias=ir.bias)
        self.up_proj = Linear(ir.d_model, ir.hidden_dim, bias=ir.bias)
        self.down_proj = Linear(ir.hidden_dim, ir.d_model, bias=ir.bias)
        self.activation = activation_function(ir.activation)
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
        self.activation = activation_function(ir.activation)
        self.dropout = nn.Dropout(ir.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_out(self.dropout(self.activation(self.fc_in(x))))

    @property
    def output_projection(self) -> nn.Linear:
        return self.fc_out


def build_ffn(ir: FFNIR) -> nn.Module:
    """The variant's module, or the mixture of experts of it (ir.moe)."""
    if ir.moe is not None:
        return resolve_path(MIXTURE_OF_EXPERTS.module)(ir)
    return resolve_path(FFN_VARIANTS[ir.variant].module)(ir)


def output_projections(ffn: nn.Module) -> list[nn.Linear]:
    """The projections of an FFN module that write into the residual stream."""
    return getattr(ffn, "output_projections", None) or [ffn.output_projection]
