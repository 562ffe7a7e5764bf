"""GPT-2: LayerNorm, pre-norm, learned positions, MLP (gelu_new = gelu_tanh, exact gelu, relu or silu), MHA with
num_heads·head_dim = d_model, biases on attention and FFN, causal mask. GPT-2 stores
Q, K and V fused into one c_attn tensor and its projections as Conv1D weights
([in, out], the transpose of nn.Linear): converted both ways here."""

from __future__ import annotations

from typing import Any

from pydantic import NonNegativeFloat, PositiveFloat, PositiveInt

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
    HFConfigFields,
    Need,
    activation,
    block,
    expansion,
    hf_activation,
    take,
)
from light_llm.interop.attention_needs import PLAIN_ATTENTION, QK_NORM_OFF, bias_need
from light_llm.interop.hf_rope import SAME_LAYERS_NEEDS
from light_llm.models.transformer.ir import TransformerIR

QKV = ("q_proj", "k_proj", "v_proj")  # fused in this order into c_attn
CONV1D = (("attention.o_proj", "attn.c_proj"), ("ffn.fc_in", "mlp.c_fc"), ("ffn.fc_out", "mlp.c_proj"))


class GPT2Fields(HFConfigFields):
    vocab_size: PositiveInt
    n_embd: PositiveInt
    n_layer: PositiveInt
    n_head: PositiveInt
    n_inner: PositiveInt | None = None
    n_positions: PositiveInt
    activation_function: str = "gelu_new"
    layer_norm_epsilon: PositiveFloat = 1e-5
    attn_pdrop: NonNegativeFloat = 0.0
    resid_pdrop: NonNegativeFloat = 0.0
    tie_word_embeddings: bool = True
    initializer_range: PositiveFloat = 0.02


class GPT2(HFArchitecture):
    model_type = "gpt2"
    heads_span_d_model = True
    hf_class = "GPT2LMHeadModel"
    base_prefix = "transformer."
    embedding = "transformer.wte.weight"
    fields = GPT2Fields
    needs = (
        Need("model.norm.type", NORM_TYPE, ("layernorm",)),
        Need("model.norm.placement", PLACEMENT, ("pre",)),
        Need("model.parallel_layers", PARALLEL, (False,)),
        Need("model.positional.encoding", ENCODING, ("learned",)),
        Need("model.attention.variant", VARIANT, ("mha",)),
        Need("model.attention.mask_type", MASK, ("causal",)),
        Need("model.ffn.variant", FFN, ("mlp",)),
        bias_need(True),
        QK_NORM_OFF,
        *PLAIN_ATTENTION,
        Need("model.ffn.bias", FFN_BIAS, (True,)),
        Need("model.lm_head_bias", LM_HEAD_BIAS, (False,)),
    ) + SAME_LAYERS_NEEDS

    def config(self, ir: TransformerIR) -> dict[str, Any]:
        attention, ffn = block(ir).attention, block(ir).ffn
        return {
            "n_embd": ir.d_model,
            "n_layer": ir.num_layers,
            "n_head": attention.num_heads,
            "n_inner": ffn.hidden_dim,
            "n_positions": ir.max_seq_len,
            "activation_function": hf_activation(ffn.activation, tanh_gelu="gelu_new"),
            "layer_norm_epsilon": block(ir).norm.eps,
            "attn_pdrop": attention.dropout,
            "resid_pdrop": block(ir).residual_dropout,
            "embd_pdrop": ir.embedding_dropout,
        }

    def renames(self, ir: TransformerIR) -> list[tuple[str, str]]:
        pairs = [("embed_tokens.weight", "transformer.wte.weight"),
                 ("embed_positions.embedding.weight", "transformer.wpe.weight")]
        for i in range(ir.num_layers):
            for ours, theirs in (("attention_norm_in", "ln_1"), ("ffn_norm_in", "ln_2")):
                pairs += [(f"blocks.{i}.{ours}.{kind}", f"transformer.h.{i}.{theirs}.{kind}")
                          for kind in ("weight", "bias")]
        pairs += [(f"final_norm.{kind}", f"transformer.ln_f.{kind}") for kind in ("weight", "bias")]
        return pairs + [("lm_head.weight", "lm_head.weight")]

    def to_hf(self, ir: TransformerIR, state: dict) -> dict:
        import torch

        out = super().to_hf(ir, state)
        for i in range(ir.num_layers):
            ours, theirs = f"blocks.{i}", f"transformer.h.{i}"
            for kind in ("weight", "bias"):
                qkv = torch.cat([take(state, f"{ours}.attention.{p}.{kind}", "light_llm") for p in QKV])
                out[f"{theirs}.attn.c_attn.{kind}"] = qkv.T.contiguous() if kind == "weight" else qkv
            for our_proj, their_proj in CONV1D:
                weight = take(state, f"{ours}.{our_proj}.weight", "light_llm")
                out[f"{theirs}.{their_proj}.weight"] = weight.T.contiguous()
                out[f"{theirs}.{their_proj}.bias"] = take(state, f"{ours}.{our_proj}.bias", "light_llm")
        return out

    def from_hf(self, ir: TransformerIR, hf_state: dict) -> dict:
        out = super().from_hf(ir, hf_state)
        for i in range(ir.num_layers):
            ours, theirs = f"blocks.{i}", f"transformer.h.{i}"
            for kind in ("weight", "bias"):
                fused = take(hf_state, f"{theirs}.attn.c_attn.{kind}", "Hugging Face")
                fused = fused.T if kind == "weight" else fused  # [3·d, d] / [3·d]
                for proj, part in zip(QKV, fused.chunk(3, dim=0)):
                    out[f"{ours}.attention.{proj}.{kind}"] = part.contiguous()
            for our_proj, their_proj in CONV1D:
                weight = take(hf_state, f"{theirs}.{their_proj}.weight", "Hugging Face")
                out[f"{ours}.{our_proj}.weight"] = weight.T.contiguous()
                out[f"{ours}.{our_proj}.bias"] = take(hf_state, f"{theirs}.{their_proj}.bias", "Hugging Face")
        return out

    def model_section(self, fields: GPT2Fields) -> dict[str, Any]:
        d_model, heads = fields.n_embd, fields.n_head
        return {
            "name": "transformer",
            "vocab_size": fields.vocab_size,
            "d_model": d_model,
            "num_layers": fields.n_layer,
            "max_seq_len": fields.n_positions,
            "attention": {"variant": "mha", "num_heads": heads, "num_kv_heads": heads,
                          "head_dim": d_model // heads, "bias": True, "dropout": fields.attn_pdrop},
            "positional": {"encoding": "learned"},
            "ffn": {"variant": "mlp", "bias": True,
                    "expansion_factor": expansion(fields.n_inner or 4 * d_model, d_model),
                    "activation": activation(fields.activation_function)},
            "norm": {"type": "layernorm", "eps": fields.layer_norm_epsilon, "placement": "pre"},
            "tie_embeddings": fields.tie_word_embeddings,
            "dropout": fields.resid_pdrop,
            "init_std": fields.initializer_range,
        }


ARCHITECTURE = GPT2()
