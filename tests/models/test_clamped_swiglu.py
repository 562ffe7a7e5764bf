"""`ffn.variant: clamped_swiglu` equals transformers' gpt-oss expert activation (its
interleaved gate_up_proj split into gate and up), and its clamps act. Export in both ONNX
forms, TorchScript and pt2: the row mqa-sinks-clamped-swiglu-window of
tests/exports/torch_targets_matrix.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from light_llm.models.transformer.clamped_swiglu import ClampedSwiGLU
from light_llm.models.transformer.ir import FFNIR


@pytest.mark.parametrize("limit", [7.0, 0.5])
def test_equals_transformers_gpt_oss_gate(limit):
    from transformers.models.gpt_oss.modeling_gpt_oss import GptOssExperts

    ir = FFNIR(variant="clamped_swiglu", d_model=12, hidden_dim=8, activation="silu", dropout=0.0, bias=True,
               swiglu_limit=limit)
    ffn = ClampedSwiGLU(ir).eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in ffn.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 3)
    x = torch.randn(5, 12, generator=generator)
    gate_up = torch.stack((ffn.gate_proj(x), ffn.up_proj(x)), dim=-1).flatten(-2)  # HF: gate, up interleaved
    hf = SimpleNamespace(alpha=1.702, limit=limit)
    expected = ffn.down_proj(GptOssExperts._apply_gate(hf, gate_up))
    with torch.no_grad():
        assert torch.allclose(ffn(x), expected, atol=1e-5)
        gate = ffn.gate_proj(x)
        unclamped = ffn.down_proj(gate * torch.sigmoid(1.702 * gate) * (ffn.up_proj(x) + 1))
        assert (ffn(x) - unclamped).abs().max() > 1e-2  # the clamps act on these values
