"""Llama: RMSNorm, pre-norm, sequential blocks, RoPE on the whole head in half-split pairs
(default, linear, llama3 or yarn scaling: interop/hf_rope.py), SwiGLU or
GeGLU, causal mask, MHA/GQA/MQA with d_model divisible by num_heads; biases map to
attention_bias / mlp_bias. Dropout rates are copied but never block a mapping (eval-mode
logits do not depend on them)."""

from __future__ import annotations

from typing import Any

from pydantic import NonNegativeFloat, PositiveFloat, PositiveInt

from light_llm.interop.hf.base import (
    ENCODING,
    FFN,
    LM_HEAD_BIAS,
    MASK,
    NORM_TYPE,
    PARALLEL,
    PLACEMENT,
    VARIANT,
    HFArchitecture,
    HFConfigError,
    HFConfigFields,
    Need,
    activation,
    block,
    expansion,
    hf_activation,
)
from light_llm.interop.attention_needs import PLAIN_ATTENTION, QK_NORM_OFF, bias_need
from light_llm.interop.hf_rope import (
    SAME_LAYERS_NEEDS,
    WHOLE_HEAD_ROPE_NEEDS,
    positional_section,
    rope_parameters,
)
from light_llm.models.transformer.ir import TransformerIR

LLAMA_NEEDS = PLAIN_ATTENTION + (
    Need("model.norm.type", NORM_TYPE, ("rmsnorm",)),
    Need("model.norm.placement", PLACEMENT, ("pre",)),
    Need("model.parallel_layers", PARALLEL, (False,)),
    Need("model.positional.encoding", ENCODING, ("rope",)),
    Need("model.attention.variant", VARIANT, ("mha", "gqa", "mqa")),
    Need("model.ffn.variant", FFN, ("swiglu", "geglu")),
    Need("model.lm_head_bias", LM_HEAD_BIAS, (False,)),
) + WHOLE_HEAD_ROPE_NEEDS + SAME_LAYERS_NEEDS


class LlamaFields(HFConfigFields):
    vocab_size: PositiveInt
    hidden_size: PositiveInt
    intermediate_size: PositiveInt
    num_hidden_layers: PositiveInt
    num_attention_heads: PositiveInt
    num_key_value_heads: PositiveInt | None = None
    head_dim: PositiveInt | None = None
    max_position_embeddings: PositiveInt
    hidden_act: str = "silu"
    rms_norm_eps: PositiveFloat = 1e-6
    attention_bias: bool = False
    mlp_bias: bool = False
    attention_dropout: NonNegativeFloat = 0.0
    rope_parameters: dict[str, Any] | None = None
    rope_scaling: dict[str, Any] | None = None
    rope_theta: PositiveFloat | None = None
    sliding_window: PositiveInt | None = None
    tie_word_embeddings: bool = False
    initializer_range: PositiveFloat = 0.02


class Llama(HFArchitecture):
    model_type = "llama"
    hf_class = "LlamaForCausalLM"
    base_prefix = "model."
    embedding = "model.embed_tokens.weight"
    fields = LlamaFields
    needs = LLAMA_NEEDS + (Need("model.attention.mask_type", MASK, ("causal",)),
                           bias_need(False, True), QK_NORM_OFF)

    def config(self, ir: TransformerIR) -> dict[str, Any]:
        attention, ffn = block(ir).attention, block(ir).ffn
        return {
            "hidden_size": ir.d_model,
            "intermediate_size": ffn.hidden_dim,
            "num_hidden_layers": ir.num_layers,
            "num_attention_heads": attention.num_heads,
            "num_key_value_heads": attention.num_kv_heads,
            "head_dim": attention.head_dim,
            "hidden_act": hf_activation(ffn.activation),
            "max_position_embeddings": ir.max_seq_len,
            "rms_norm_eps": block(ir).norm.eps,
            "attention_dropout": attention.dropout,
            "rope_parameters": rope_parameters(ir),
            "rope_theta": ir.positional.rope_base,  # read by transformers 4.x
        } | self.config_extra(ir)

    def config_extra(self, ir: TransformerIR) -> dict[str, Any]:
        return {"attention_bias": block(ir).attention.bias, "mlp_bias": block(ir).ffn.bias}

    def renames(self, ir: TransformerIR) -> list[tuple[str, str]]:
        pairs = [("embed_tokens.weight", "model.embed_tokens.weight"),
                 ("final_norm.weight", "model.norm.weight")]
        attention_kinds = ("weight", "bias") if block(ir).attention.bias else ("weight",)
        output_kinds = ("weight", "bias") if block(ir).attention.output_bias else ("weight",)
        ffn_kinds = ("weight", "bias") if block(ir).ffn.bias else ("weight",)
        for i in range(ir.num_layers):
            ours, theirs = f"blocks.{i}", f"model.layers.{i}"
            pairs += [(f"{ours}.attention_norm_in.weight", f"{theirs}.input_layernorm.weight"),
                      (f"{ours}.ffn_norm_in.weight", f"{theirs}.post_attention_layernorm.weight")]
            for proj, kinds in (("q_proj", attention_kinds), ("k_proj", attention_kinds),
                                ("v_proj", attention_kinds), ("o_proj", output_kinds)):
                pairs += [(f"{ours}.attention.{proj}.{kind}", f"{theirs}.self_attn.{proj}.{kind}")
                          for kind in kinds]
            for proj in ("gate_proj", "up_proj", "down_proj"):
                pairs += [(f"{ours}.ffn.{proj}.{kind}", f"{theirs}.mlp.{proj}.{kind}") for kind in ffn_kinds]
        return pairs + [("lm_head.weight", "lm_head.weight")]

    def model_section(self, fields: LlamaFields) -> dict[str, Any]:
        d_model, heads = fields.hidden_size, fields.num_attention_heads
        kv_heads = fields.num_key_value_heads or heads
        rope = fields.rope_parameters or fields.rope_scaling or {}
        positional = positional_section(rope, fields.rope_theta)
        gate = activation(fields.hidden_act)
        if gate not in ("silu", "gelu", "gelu_tanh"):
            raise HFConfigError(
                f"hidden_act {fields.hidden_act!r}: light_llm gates with silu, gelu or gelu_tanh only"
            )
        return {
            "name": "transformer",
            "vocab_size": fields.vocab_size,
            "d_model": d_model,
            "num_layers": fields.num_hidden_layers,
            "max_seq_len": fields.max_position_embeddings,
            "attention": {
                "variant": "mha" if kv_heads == heads else ("mqa" if kv_heads == 1 else "gqa"),
                "num_heads": heads, "num_kv_heads": kv_heads,
                "head_dim": fields.head_dim or d_model // heads,
                "bias": fields.attention_bias,
                "dropout": fields.attention_dropout,
            } | self.mask_from(fields),
            "positional": positional,
            "ffn": {"variant": "swiglu" if gate == "silu" else "geglu",
                    **({"activation": gate} if gate == "gelu_tanh" else {}),
                    "expansion_factor": expansion(fields.intermediate_size, d_model),
                    "bias": fields.mlp_bias},
            "norm": {"type": "rmsnorm", "eps": fields.rms_norm_eps, "placement": "pre"},
            "tie_embeddings": fields.tie_word_embeddings,
            "init_std": fields.initializer_range,
        }

    def mask_from(self, fields: LlamaFields) -> dict[str, Any]:
        return {"mask_type": "causal"}


ARCHITECTURE = Llama()
