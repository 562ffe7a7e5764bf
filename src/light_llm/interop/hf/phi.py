"""Phi (Phi-1, Phi-1.5, Phi-2): LayerNorm, attention and MLP in parallel on one shared
input norm (`parallel_layers`, `parallel_norms: shared`), RoPE on the first
`partial_rotary_factor` of each head in half-split pairs, a gelu_new (= gelu_tanh) MLP,
biases on q/k/v/dense and fc1/fc2, MHA/GQA/MQA with num_heads·head_dim = d_model, a final
LayerNorm and an LM head with a bias (`lm_head_bias`). `qk_layernorm` is a LayerNorm over
each head of Q and K (eps layer_norm_eps, weight and bias of size head_dim shared by the
heads) before RoPE: `attention.qk_norm: per_head` with model.norm's LayerNorm."""

from __future__ import annotations

from typing import Any

from pydantic import NonNegativeFloat, PositiveFloat, PositiveInt

from light_llm.interop.attention_needs import PLAIN_ATTENTION, bias_need, qk_norm
from light_llm.interop.hf.base import (
    ENCODING,
    FFN,
    FFN_BIAS,
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
from light_llm.interop.hf_partial_rope import HALF_PAIRS, partial_positional_section, partial_rope_parameters
from light_llm.interop.hf_rope import SAME_LAYERS_NEEDS
from light_llm.models.transformer.ir import TransformerIR

DEFAULT_PARTIAL_ROTARY_FACTOR = 0.5  # transformers' PhiConfig default
BOTH = ("weight", "bias")


class PhiFields(HFConfigFields):
    vocab_size: PositiveInt
    hidden_size: PositiveInt
    intermediate_size: PositiveInt
    num_hidden_layers: PositiveInt
    num_attention_heads: PositiveInt
    num_key_value_heads: PositiveInt | None = None
    head_dim: PositiveInt | None = None
    hidden_act: str = "gelu_new"
    max_position_embeddings: PositiveInt
    layer_norm_eps: PositiveFloat = 1e-5
    resid_pdrop: NonNegativeFloat = 0.0
    attention_dropout: NonNegativeFloat | None = 0.0
    qk_layernorm: bool = False
    rope_parameters: dict[str, Any] | None = None
    rope_scaling: dict[str, Any] | None = None
    rope_theta: PositiveFloat | None = None
    partial_rotary_factor: PositiveFloat | None = None
    tie_word_embeddings: bool = False
    initializer_range: PositiveFloat = 0.02


class Phi(HFArchitecture):
    model_type = "phi"
    heads_span_d_model = True
    hf_class = "PhiForCausalLM"
    base_prefix = "model."
    embedding = "model.embed_tokens.weight"
    fields = PhiFields
    needs = (
        Need("model.norm.type", NORM_TYPE, ("layernorm",)),
        Need("model.norm.placement", PLACEMENT, ("pre",)),
        Need("model.parallel_layers", PARALLEL, (True,)),
        Need("model.parallel_norms", lambda ir: block(ir).parallel_norms, ("shared",)),
        Need("model.positional.encoding", ENCODING, ("rope",)),
        HALF_PAIRS,
        Need("model.attention.variant", VARIANT, ("mha", "gqa", "mqa")),
        Need("model.attention.mask_type", MASK, ("causal",)),
        Need("model.ffn.variant", FFN, ("mlp",)),
        Need("model.ffn.bias", FFN_BIAS, (True,)),
        bias_need(True),
        Need("model.attention.qk_norm", qk_norm, ("none", "per_head")),
        *PLAIN_ATTENTION,
        Need("model.lm_head_bias", LM_HEAD_BIAS, (True,)),
    ) + SAME_LAYERS_NEEDS

    def config(self, ir: TransformerIR) -> dict[str, Any]:
        attention, ffn = block(ir).attention, block(ir).ffn
        return {
            "hidden_size": ir.d_model,
            "intermediate_size": ffn.hidden_dim,
            "num_hidden_layers": ir.num_layers,
            "num_attention_heads": attention.num_heads,
            "num_key_value_heads": attention.num_kv_heads,
            "hidden_act": hf_activation(ffn.activation, tanh_gelu="gelu_new"),
            "max_position_embeddings": ir.max_seq_len,
            "layer_norm_eps": block(ir).norm.eps,
            "resid_pdrop": block(ir).residual_dropout,
            "embd_pdrop": ir.embedding_dropout,
            "attention_dropout": attention.dropout,
            "qk_layernorm": attention.qk_norm == "per_head",
            "rope_parameters": partial_rope_parameters(ir),
            # read by transformers 4.x
            "rope_theta": ir.positional.rope_base,
            "partial_rotary_factor": ir.positional.rope_fraction,
        }

    def renames(self, ir: TransformerIR) -> list[tuple[str, str]]:
        pairs = [("embed_tokens.weight", "model.embed_tokens.weight")]
        for i in range(ir.num_layers):
            ours, theirs = f"blocks.{i}", f"model.layers.{i}"
            modules = [("norm_in", "input_layernorm"),
                       *((f"attention.{p}", f"self_attn.{p}") for p in ("q_proj", "k_proj", "v_proj")),
                       ("attention.o_proj", "self_attn.dense"), ("ffn.fc_in", "mlp.fc1"), ("ffn.fc_out", "mlp.fc2")]
            if block(ir).attention.qk_norm == "per_head":
                modules += [("attention.q_norm", "self_attn.q_layernorm"), ("attention.k_norm", "self_attn.k_layernorm")]
            pairs += [(f"{ours}.{our}.{kind}", f"{theirs}.{their}.{kind}") for our, their in modules for kind in BOTH]
        pairs += [(f"final_norm.{kind}", f"model.final_layernorm.{kind}") for kind in BOTH]
        return pairs + [(f"lm_head.{kind}", f"lm_head.{kind}") for kind in BOTH]

    def model_section(self, fields: PhiFields) -> dict[str, Any]:
        d_model, heads = fields.hidden_size, fields.num_attention_heads
        kv_heads = fields.num_key_value_heads or heads
        if d_model % heads or (fields.head_dim or d_model // heads) != d_model // heads:
            raise HFConfigError(f"phi config: hidden_size={d_model}, num_attention_heads={heads}, "
                                f"head_dim={fields.head_dim}: light_llm maps Phi with head_dim = "
                                "hidden_size / num_attention_heads (its qk_layernorm size) only")
        rope = fields.rope_parameters or fields.rope_scaling or {}
        return {
            "name": "transformer",
            "vocab_size": fields.vocab_size,
            "d_model": d_model,
            "num_layers": fields.num_hidden_layers,
            "max_seq_len": fields.max_position_embeddings,
            "attention": {
                "variant": "mha" if kv_heads == heads else ("mqa" if kv_heads == 1 else "gqa"),
                "num_heads": heads, "num_kv_heads": kv_heads, "head_dim": d_model // heads,
                "bias": True, "dropout": fields.attention_dropout or 0.0,
                "qk_norm": "per_head" if fields.qk_layernorm else "none",
            },
            "positional": partial_positional_section(rope, fields.rope_theta, fields.partial_rotary_factor,
                                                     DEFAULT_PARTIAL_ROTARY_FACTOR),
            "ffn": {"variant": "mlp", "bias": True,
                    "expansion_factor": expansion(fields.intermediate_size, d_model),
                    "activation": activation(fields.hidden_act)},
            "norm": {"type": "layernorm", "eps": fields.layer_norm_eps, "placement": "pre"},
            "parallel_layers": True,
            "lm_head_bias": True,
            "tie_embeddings": fields.tie_word_embeddings,
            "dropout": fields.resid_pdrop,
            "init_std": fields.initializer_range,
        }


ARCHITECTURE = Phi()
