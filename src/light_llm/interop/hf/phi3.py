"""Phi-3 (Phi3ForCausalLM): Llama without biases, an optional sliding window (as Mistral),
default RoPE only. Phi-3 stores Q, K and V fused into one `qkv_proj` tensor (rows: the
query heads, then the key heads, then the value heads) and the gated FFN's gate and up
projections fused into one `gate_up_proj` (gate rows first): converted both ways here.

Not expressible (each named on import): `rope_type` longrope (alias su, yarn), Phi-3's
long-context scaling with short/long factors; `partial_rotary_factor` below 1."""

from __future__ import annotations

from typing import Any

from pydantic import NonNegativeFloat, PositiveInt

from light_llm.interop.attention_needs import QK_NORM_OFF
from light_llm.interop.hf.base import NO_ATTENTION_BIAS, NO_FFN_BIAS, WINDOWED_MASK, HFConfigError, Need, block, take
from light_llm.interop.hf.llama import LLAMA_NEEDS, LlamaFields
from light_llm.interop.hf.mistral import Mistral
from light_llm.models.transformer.ir import TransformerIR

QKV = ("q_proj", "k_proj", "v_proj")
GATE_UP = ("gate_proj", "up_proj")
ROPE_SCALING = lambda ir: ir.positional.rope_scaling  # noqa: E731  the linear factor
ROPE_RULE = lambda ir: getattr(ir.positional.rope_scaling_rule, "type", None)  # noqa: E731  llama3 / yarn


class Phi3Fields(LlamaFields):
    rms_norm_eps: float = 1e-5
    partial_rotary_factor: float | None = None
    original_max_position_embeddings: PositiveInt | None = None
    resid_pdrop: NonNegativeFloat = 0.0


class Phi3(Mistral):
    model_type = "phi3"
    hf_class = "Phi3ForCausalLM"
    fields = Phi3Fields
    needs = LLAMA_NEEDS + (
        WINDOWED_MASK,
        NO_ATTENTION_BIAS,
        NO_FFN_BIAS,
        Need("model.positional.rope_scaling", ROPE_SCALING, (1.0,)),
        Need("model.positional.rope_scaling.type", ROPE_RULE, (None,)),
        QK_NORM_OFF,
    )

    def config_extra(self, ir: TransformerIR) -> dict[str, Any]:
        return super().config_extra(ir) | {"original_max_position_embeddings": ir.max_seq_len}

    def renames(self, ir: TransformerIR) -> list[tuple[str, str]]:
        fused = tuple(f".attention.{p}.weight" for p in QKV) + tuple(f".ffn.{p}.weight" for p in GATE_UP)
        return [(ours, theirs) for ours, theirs in super().renames(ir) if not ours.endswith(fused)]

    def to_hf(self, ir: TransformerIR, state: dict) -> dict:
        import torch

        out = super().to_hf(ir, state)
        for i in range(ir.num_layers):
            ours, theirs = f"blocks.{i}", f"model.layers.{i}"
            out[f"{theirs}.self_attn.qkv_proj.weight"] = torch.cat(
                [take(state, f"{ours}.attention.{p}.weight", "light_llm") for p in QKV])
            out[f"{theirs}.mlp.gate_up_proj.weight"] = torch.cat(
                [take(state, f"{ours}.ffn.{p}.weight", "light_llm") for p in GATE_UP])
        return out

    def from_hf(self, ir: TransformerIR, hf_state: dict) -> dict:
        out = super().from_hf(ir, hf_state)
        attention = block(ir).attention
        sizes = [attention.num_heads * attention.head_dim] + [attention.num_kv_heads * attention.head_dim] * 2
        for i in range(ir.num_layers):
            ours, theirs = f"blocks.{i}", f"model.layers.{i}"
            qkv = take(hf_state, f"{theirs}.self_attn.qkv_proj.weight", "Hugging Face")
            for proj, part in zip(QKV, qkv.split(sizes, dim=0)):
                out[f"{ours}.attention.{proj}.weight"] = part
            gate_up = take(hf_state, f"{theirs}.mlp.gate_up_proj.weight", "Hugging Face")
            for proj, part in zip(GATE_UP, gate_up.chunk(2, dim=0)):
                out[f"{ours}.ffn.{proj}.weight"] = part
        return out

    def model_section(self, fields: Phi3Fields) -> dict[str, Any]:
        rope = fields.rope_parameters or fields.rope_scaling or {}
        rope_type = rope.get("rope_type", rope.get("type", "default"))
        rotary = rope.get("partial_rotary_factor", fields.partial_rotary_factor or 1.0)
        blockers = []
        if rope_type != "default":
            blockers.append(f"rope_parameters.rope_type={rope_type!r} (Phi-3's long-context scaling with "
                            "short/long factors has no light_llm equivalent; supported: 'default')")
        if rotary != 1.0:
            blockers.append(f"partial_rotary_factor={rotary} (light_llm rotates whole heads; supported: 1.0)")
        if blockers:
            raise HFConfigError("phi3 config cannot be expressed: " + "; ".join(blockers))
        return super().model_section(fields)


ARCHITECTURE = Phi3()
