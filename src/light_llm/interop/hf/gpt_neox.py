"""GPT-NeoX (Pythia): LayerNorm, pre-norm, RoPE on the first `rotary_pct` of each head in
half-split pairs, an MLP (gelu by default; gelu_new / gelu_fast are the tanh
approximation), MHA with num_heads·head_dim = d_model, biases on every FFN projection and
on all four attention projections or none (`attention_bias`). `use_parallel_residual`
true is a parallel block with one input norm each for attention and MLP
(`parallel_layers` with `parallel_norms: separate`), false a sequential pre-norm block.

GPT-NeoX stores Q, K and V fused in one `query_key_value` tensor whose output rows are
grouped per head ([heads, 3, head_dim]), converted both ways here. Its LM head is
`lm_head` in transformers 5's model and `embed_out` in checkpoints (transformers renames
it on load and back on save; the import reads either, and `export --hf` writes
`embed_out`, which transformers 4.x loads too)."""

from __future__ import annotations

from typing import Any

from pydantic import NonNegativeFloat, PositiveFloat, PositiveInt

from light_llm.interop.attention_needs import PLAIN_ATTENTION, QK_NORM_OFF, bias_need
from light_llm.interop.hf.base import (
    ENCODING,
    FFN,
    FFN_BIAS,
    LM_HEAD_BIAS,
    MASK,
    NORM_TYPE,
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
    take,
)
from light_llm.interop.hf_partial_rope import HALF_PAIRS, partial_positional_section, partial_rope_parameters
from light_llm.interop.hf_rope import SAME_LAYERS_NEEDS
from light_llm.models.transformer.ir import TransformerIR

QKV = ("q_proj", "k_proj", "v_proj")  # per head, in this order, in query_key_value
DEFAULT_ROTARY_PCT = 0.25  # transformers' GPTNeoXConfig default
NEOX_ACTIVATIONS = {"gelu_fast": "gelu_tanh"}  # the same tanh formula, written out


def _parallel_norms(ir: TransformerIR) -> str:
    """'separate' for the two layouts GPT-NeoX has (sequential, or parallel with two input
    norms); a parallel block with one shared norm is 'shared'."""
    return block(ir).parallel_norms if block(ir).parallel else "separate"


class GPTNeoXFields(HFConfigFields):
    vocab_size: PositiveInt
    hidden_size: PositiveInt
    num_hidden_layers: PositiveInt
    num_attention_heads: PositiveInt
    intermediate_size: PositiveInt
    hidden_act: str = "gelu"
    max_position_embeddings: PositiveInt
    layer_norm_eps: PositiveFloat = 1e-5
    use_parallel_residual: bool = True
    attention_bias: bool = True
    attention_dropout: NonNegativeFloat = 0.0
    hidden_dropout: NonNegativeFloat = 0.0
    rope_parameters: dict[str, Any] | None = None
    rope_scaling: dict[str, Any] | None = None
    rotary_pct: PositiveFloat | None = None
    rotary_emb_base: PositiveFloat | None = None
    tie_word_embeddings: bool = False
    initializer_range: PositiveFloat = 0.02


class GPTNeoX(HFArchitecture):
    model_type = "gpt_neox"
    heads_span_d_model = True
    hf_class = "GPTNeoXForCausalLM"
    base_prefix = "gpt_neox."
    embedding = "gpt_neox.embed_in.weight"
    checkpoint_aliases = {"embed_out.weight": "lm_head.weight"}
    fields = GPTNeoXFields
    needs = (
        Need("model.norm.type", NORM_TYPE, ("layernorm",)),
        Need("model.norm.placement", PLACEMENT, ("pre",)),
        Need("model.parallel_norms", _parallel_norms, ("separate",)),
        Need("model.positional.encoding", ENCODING, ("rope",)),
        HALF_PAIRS,
        Need("model.attention.variant", VARIANT, ("mha",)),
        Need("model.attention.mask_type", MASK, ("causal",)),
        Need("model.ffn.variant", FFN, ("mlp",)),
        Need("model.ffn.bias", FFN_BIAS, (True,)),
        bias_need(False, True),
        QK_NORM_OFF,
        *PLAIN_ATTENTION,
        Need("model.lm_head_bias", LM_HEAD_BIAS, (False,)),
    ) + SAME_LAYERS_NEEDS

    def config(self, ir: TransformerIR) -> dict[str, Any]:
        attention, ffn = block(ir).attention, block(ir).ffn
        return {
            "hidden_size": ir.d_model,
            "num_hidden_layers": ir.num_layers,
            "num_attention_heads": attention.num_heads,
            "intermediate_size": ffn.hidden_dim,
            "hidden_act": hf_activation(ffn.activation, tanh_gelu="gelu_new"),
            "max_position_embeddings": ir.max_seq_len,
            "layer_norm_eps": block(ir).norm.eps,
            "use_parallel_residual": block(ir).parallel,
            "attention_bias": attention.bias,
            "attention_dropout": attention.dropout,
            "hidden_dropout": block(ir).residual_dropout,
            "rope_parameters": partial_rope_parameters(ir),
            # read by transformers 4.x
            "rotary_pct": ir.positional.rope_fraction,
            "rotary_emb_base": ir.positional.rope_base,
        }

    def renames(self, ir: TransformerIR) -> list[tuple[str, str]]:
        attention_kinds = ("weight", "bias") if block(ir).attention.bias else ("weight",)
        pairs = [("embed_tokens.weight", "gpt_neox.embed_in.weight")]
        for i in range(ir.num_layers):
            ours, theirs = f"blocks.{i}", f"gpt_neox.layers.{i}"
            for kind in ("weight", "bias"):
                pairs += [(f"{ours}.attention_norm_in.{kind}", f"{theirs}.input_layernorm.{kind}"),
                          (f"{ours}.ffn_norm_in.{kind}", f"{theirs}.post_attention_layernorm.{kind}"),
                          (f"{ours}.ffn.fc_in.{kind}", f"{theirs}.mlp.dense_h_to_4h.{kind}"),
                          (f"{ours}.ffn.fc_out.{kind}", f"{theirs}.mlp.dense_4h_to_h.{kind}")]
            pairs += [(f"{ours}.attention.o_proj.{kind}", f"{theirs}.attention.dense.{kind}")
                      for kind in attention_kinds]
        pairs += [(f"final_norm.{kind}", f"gpt_neox.final_layer_norm.{kind}") for kind in ("weight", "bias")]
        return pairs + [("lm_head.weight", "lm_head.weight")]

    def to_hf(self, ir: TransformerIR, state: dict) -> dict:
        import torch

        out = super().to_hf(ir, state)
        heads, head_dim = block(ir).attention.num_heads, block(ir).attention.head_dim
        for i in range(ir.num_layers):
            ours = f"blocks.{i}.attention"
            for kind in ("weight", "bias") if block(ir).attention.bias else ("weight",):
                parts = [take(state, f"{ours}.{proj}.{kind}", "light_llm") for proj in QKV]
                per_head = torch.stack([part.reshape(heads, head_dim, *part.shape[1:]) for part in parts], 1)
                out[f"gpt_neox.layers.{i}.attention.query_key_value.{kind}"] = (
                    per_head.reshape(3 * heads * head_dim, *parts[0].shape[1:]).contiguous())
        return out

    def from_hf(self, ir: TransformerIR, hf_state: dict) -> dict:
        out = super().from_hf(ir, hf_state)
        heads, head_dim = block(ir).attention.num_heads, block(ir).attention.head_dim
        for i in range(ir.num_layers):
            for kind in ("weight", "bias") if block(ir).attention.bias else ("weight",):
                fused = take(hf_state, f"gpt_neox.layers.{i}.attention.query_key_value.{kind}", "Hugging Face")
                per_head = fused.reshape(heads, 3, head_dim, *fused.shape[1:])
                for j, proj in enumerate(QKV):
                    out[f"blocks.{i}.attention.{proj}.{kind}"] = (
                        per_head[:, j].reshape(heads * head_dim, *fused.shape[1:]).contiguous())
        return out

    def model_section(self, fields: GPTNeoXFields) -> dict[str, Any]:
        d_model, heads = fields.hidden_size, fields.num_attention_heads
        if d_model % heads:
            raise HFConfigError(f"gpt_neox config: hidden_size={d_model} is not divisible by "
                                f"num_attention_heads={heads}")
        rope = fields.rope_parameters or fields.rope_scaling or {}
        return {
            "name": "transformer",
            "vocab_size": fields.vocab_size,
            "d_model": d_model,
            "num_layers": fields.num_hidden_layers,
            "max_seq_len": fields.max_position_embeddings,
            "attention": {"variant": "mha", "num_heads": heads, "num_kv_heads": heads,
                          "head_dim": d_model // heads, "bias": fields.attention_bias,
                          "dropout": fields.attention_dropout},
            "positional": partial_positional_section(rope, fields.rotary_emb_base, fields.rotary_pct,
                                                     DEFAULT_ROTARY_PCT),
            "ffn": {"variant": "mlp", "bias": True,
                    "expansion_factor": expansion(fields.intermediate_size, d_model),
                    "activation": NEOX_ACTIVATIONS.get(fields.hidden_act) or activation(fields.hidden_act)},
            "norm": {"type": "layernorm", "eps": fields.layer_norm_eps, "placement": "pre"},
            "parallel_layers": fields.use_parallel_residual,
            **({"parallel_norms": "separate"} if fields.use_parallel_residual else {}),
            "tie_embeddings": fields.tie_word_embeddings,
            "dropout": fields.hidden_dropout,
            "init_std": fields.initializer_range,
        }


ARCHITECTURE = GPTNeoX()
