"""gpt-oss (`GptOssForCausalLM`): Llama's pre-norm layout with biases on all four attention
projections or none (`attention_bias`), a learned sink logit per query head
(`self_attn.sinks` → `attention.sinks`), the sliding window on the layers `layer_types`
names sliding_attention (alternating, sliding first, when config.json leaves it out) →
`attention.layer_pattern`, YaRN RoPE that keeps its ramp's ends fractional
(`rope_scaling.truncate: false`), and a mixture of experts in every layer: the router
(`mlp.router`, with a bias) takes the top k logits, then a softmax over them
(`moe.router: topk_softmax`, `router_bias`), each expert a clamped SwiGLU with biases
(`ffn.variant: clamped_swiglu`, `swiglu_alpha`, `swiglu_limit`).

The experts are stacked, in the module and in checkpoint files alike, as
`mlp.experts.gate_up_proj` [E, d_model, 2·hidden] (x @ W: light_llm's Linear weights
transposed) with the gate on the even columns and up on the odd ones, `gate_up_proj_bias`
[E, 2·hidden] interleaved alike, `down_proj` [E, hidden, d_model] and `down_proj_bias`
[E, d_model]. A checkpoint with a `quantization_config` (the released MXFP4 experts:
`*_blocks`, `*_scales`) is refused."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import NonNegativeFloat, PositiveFloat, PositiveInt

from light_llm.interop.attention_needs import QK_NORM_OFF, bias_need, sinks
from light_llm.interop.hf.base import FFN, FFN_BIAS, WINDOWED_MASK, HFConfigError, Need, block, take
from light_llm.interop.hf.llama import Llama, LlamaFields
from light_llm.interop.hf.qwen2 import PER_LAYER_NEEDS
from light_llm.interop.hf_experts import (
    EVERY_LAYER_SPARSE,
    IS_SPARSE,
    NO_SHARED_EXPERTS,
    NORMALIZED,
    moe_section,
    router_bias_need,
    sparse_ffn,
)
from light_llm.interop.hf_layers import (
    SLIDING,
    alternating_layer_types,
    checked_layer_types,
    layer_types,
    mask_section,
)
from light_llm.interop.hf_rope import positional_section
from light_llm.models.transformer.ir import TransformerIR

ROPE_THETA = 150_000.0  # transformers' GptOssConfig defaults
DEFAULT_ROPE = {"rope_type": "yarn", "factor": 32.0, "beta_fast": 32.0, "beta_slow": 1.0, "truncate": False,
                "original_max_position_embeddings": 4096}
FREED = ("model.ffn.variant", "model.attention.sinks")


class GptOssFields(LlamaFields):  # defaults: transformers' GptOssConfig
    intermediate_size: PositiveInt = 2880
    head_dim: PositiveInt = 64
    max_position_embeddings: PositiveInt = 131_072
    rms_norm_eps: PositiveFloat = 1e-5
    attention_bias: bool = True
    sliding_window: PositiveInt | None = 128
    layer_types: list[str] | None = None
    num_local_experts: PositiveInt = 128
    num_experts_per_tok: PositiveInt = 4
    swiglu_alpha: PositiveFloat = 1.702
    swiglu_limit: PositiveFloat = 7.0
    router_aux_loss_coef: NonNegativeFloat = 0.001
    quantization_config: dict[str, Any] | None = None


def interleaved(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """[..., n] and [..., n] → [..., 2n]: gate on the even positions, up on the odd ones."""
    return torch.stack([gate, up], dim=-1).flatten(-2)


class GptOss(Llama):
    model_type = "gpt_oss"
    hf_class = "GptOssForCausalLM"
    fields = GptOssFields
    needs = tuple(need for need in PER_LAYER_NEEDS if need.path not in FREED) + (
        WINDOWED_MASK,
        Need("model.attention.sinks", sinks, (True,)),
        Need("model.ffn.variant", FFN, ("clamped_swiglu",)),
        Need("model.ffn.bias", FFN_BIAS, (True,)),
        bias_need(False, True),
        QK_NORM_OFF, IS_SPARSE, router_bias_need(True), NO_SHARED_EXPERTS, EVERY_LAYER_SPARSE, NORMALIZED,
    )

    def expert_problems(self, ir: TransformerIR) -> list[str]:
        return []  # its needs say what it cannot express

    def shape_problems(self, ir: TransformerIR) -> list[str]:
        return []  # config.json always carries head_dim

    def config_extra(self, ir: TransformerIR) -> dict[str, Any]:
        ffn = sparse_ffn(ir)
        windows = {b.attention.window_size for b in ir.blocks} - {None}
        return {
            "attention_bias": block(ir).attention.bias,
            "layer_types": layer_types(ir),
            "sliding_window": windows.pop() if windows else ir.max_seq_len,  # transformers builds its mask anyway
            "num_local_experts": ffn.moe.experts,
            "num_experts_per_tok": ffn.moe.experts_per_token,
            "swiglu_alpha": ffn.swiglu_alpha,
            "swiglu_limit": ffn.swiglu_limit,
            "router_aux_loss_coef": ffn.moe.aux_loss_coef,
        }

    def renames(self, ir: TransformerIR) -> list[tuple[str, str]]:
        """Llama's pairs less the FFN, plus each layer's sinks and router."""
        pairs = [(ours, theirs) for ours, theirs in super().renames(ir) if ".ffn." not in ours]
        for i in range(ir.num_layers):
            ours, theirs = f"blocks.{i}", f"model.layers.{i}"
            pairs.append((f"{ours}.attention.kernel.sinks", f"{theirs}.self_attn.sinks"))
            pairs += [(f"{ours}.ffn.router.{kind}", f"{theirs}.mlp.router.{kind}") for kind in ("weight", "bias")]
        return pairs

    def to_hf(self, ir: TransformerIR, state: dict) -> dict:
        hf_state = super().to_hf(ir, state)
        for i in range(ir.num_layers):
            experts = [f"blocks.{i}.ffn.experts.{e}" for e in range(ir.blocks[i].ffn.moe.experts)]
            tensor = lambda name: torch.stack([state[f"{e}.{name}"] for e in experts])  # noqa: E731
            theirs = f"model.layers.{i}.mlp.experts"
            hf_state[f"{theirs}.gate_up_proj"] = interleaved(
                tensor("gate_proj.weight").transpose(1, 2), tensor("up_proj.weight").transpose(1, 2))
            hf_state[f"{theirs}.gate_up_proj_bias"] = interleaved(tensor("gate_proj.bias"), tensor("up_proj.bias"))
            hf_state[f"{theirs}.down_proj"] = tensor("down_proj.weight").transpose(1, 2).contiguous()
            hf_state[f"{theirs}.down_proj_bias"] = tensor("down_proj.bias")
        return hf_state

    def from_hf(self, ir: TransformerIR, hf_state: dict) -> dict:
        state = super().from_hf(ir, hf_state)
        for i in range(ir.num_layers):
            theirs = f"model.layers.{i}.mlp.experts"
            tensor = lambda name: take(hf_state, f"{theirs}.{name}", "Hugging Face")  # noqa: E731
            gate_up, gate_up_bias = tensor("gate_up_proj"), tensor("gate_up_proj_bias")
            projections = {
                "gate_proj": (gate_up[..., ::2].transpose(1, 2), gate_up_bias[..., ::2]),
                "up_proj": (gate_up[..., 1::2].transpose(1, 2), gate_up_bias[..., 1::2]),
                "down_proj": (tensor("down_proj").transpose(1, 2), tensor("down_proj_bias")),
            }
            for e in range(ir.blocks[i].ffn.moe.experts):
                for name, (weight, bias) in projections.items():
                    state[f"blocks.{i}.ffn.experts.{e}.{name}.weight"] = weight[e].contiguous()
                    state[f"blocks.{i}.ffn.experts.{e}.{name}.bias"] = bias[e].contiguous()
        return state

    def model_section(self, fields: GptOssFields) -> dict[str, Any]:
        if fields.quantization_config is not None:
            method = fields.quantization_config.get("quant_method")
            raise HFConfigError(f"gpt_oss config: quantization_config (quant_method {method!r}: packed expert "
                                "weights) is not imported; allowed: none (a bf16 or fp32 checkpoint)")
        section = super().model_section(fields)
        section["attention"]["sinks"] = True
        section["positional"] = positional_section(
            fields.rope_parameters or fields.rope_scaling or DEFAULT_ROPE, fields.rope_theta or ROPE_THETA)
        section["ffn"] = {
            "variant": "clamped_swiglu", "swiglu_alpha": fields.swiglu_alpha, "swiglu_limit": fields.swiglu_limit,
            "expansion_factor": section["ffn"]["expansion_factor"], "bias": True,
            "moe": moe_section(fields.num_local_experts, fields.num_experts_per_tok, fields.intermediate_size,
                               fields.hidden_size, True, fields.router_aux_loss_coef,
                               [True] * fields.num_hidden_layers) | {"router": "topk_softmax", "router_bias": True},
        }
        return section

    def mask_from(self, fields: GptOssFields) -> dict[str, Any]:
        types = fields.layer_types or alternating_layer_types(fields.num_hidden_layers)
        windowed = [kind == SLIDING for kind in checked_layer_types(self.model_type, types, fields.num_hidden_layers)]
        return mask_section(self.model_type, windowed, fields.sliding_window)


ARCHITECTURE = GptOss()
