"""Gemma: Llama's layout with the token embeddings times √hidden_size
(`embedding_scale: sqrt_d_model`, in the model dtype as transformers does), GeGLU with
tanh GELU (`hidden_act` gelu_pytorch_tanh; Gemma's legacy "gelu" means the same), an
explicit head_dim (256 when config.json leaves it out) and tied embeddings by default.

Gemma's RMSNorm multiplies by (1 + w) and stores w: converted here at import
(ours = 1 + theirs, in fp32) and export (theirs = ours - 1) for every norm, the QK norms
of Gemma 3 included; not a spec option."""

from __future__ import annotations

import math
from typing import Any

from pydantic import PositiveInt

from light_llm.interop.attention_needs import QK_NORM_OFF, bias_need
from light_llm.interop.hf.base import MASK, NO_FFN_BIAS, HFConfigError, Need, activation, block
from light_llm.interop.hf.llama import LLAMA_NEEDS, Llama, LlamaFields
from light_llm.models.transformer.ir import TransformerIR

GEMMA_HEAD_DIM = 256  # transformers' GemmaConfig default
TANH_GELU = "gelu_pytorch_tanh"
NORM_SUFFIXES = ("norm_in.weight", "norm_out.weight", "q_norm.weight", "k_norm.weight")  # plus final_norm


def sqrt_d_model_scale(ir: TransformerIR) -> Any:
    """'sqrt_d_model' where the embedding scale is √d_model, else the number."""
    return "sqrt_d_model" if ir.embedding_scale == math.sqrt(ir.d_model) else ir.embedding_scale


def ffn_activation(ir: TransformerIR) -> str:
    return block(ir).ffn.activation


# Llama's needs with Gemma's embedding scale in place of none.
GEMMA_BASE_NEEDS = tuple(need for need in LLAMA_NEEDS if need.path != "model.embedding_scale") + (
    Need("model.embedding_scale", sqrt_d_model_scale, ("sqrt_d_model",)),
    # transformers turns a Gemma hidden_act "gelu" into the tanh approximation: exact GELU
    # cannot be written.
    Need("model.ffn.activation", ffn_activation, ("gelu_tanh", "silu")),
    NO_FFN_BIAS,
    bias_need(False, True),
    QK_NORM_OFF,
)


class GemmaFields(LlamaFields):
    head_dim: PositiveInt = GEMMA_HEAD_DIM
    max_position_embeddings: PositiveInt = 8192
    hidden_act: str = TANH_GELU
    hidden_activation: str | None = None  # read by transformers 4.x instead of hidden_act
    tie_word_embeddings: bool = True
    use_bidirectional_attention: bool | None = None


def is_norm_weight(ours: str) -> bool:
    return ours == "final_norm.weight" or ours.endswith(NORM_SUFFIXES)


class Gemma(Llama):
    model_type = "gemma"
    hf_class = "GemmaForCausalLM"
    fields = GemmaFields
    needs = GEMMA_BASE_NEEDS + (Need("model.attention.mask_type", MASK, ("causal",)),)

    def shape_problems(self, ir: TransformerIR) -> list[str]:
        return []  # head_dim is explicit: num_heads need not divide d_model

    def config(self, ir: TransformerIR) -> dict[str, Any]:
        config = super().config(ir)
        config["hidden_act"] = config["hidden_activation"] = gemma_activation(block(ir).ffn.activation)
        return config

    def config_extra(self, ir: TransformerIR) -> dict[str, Any]:
        return {"attention_bias": block(ir).attention.bias}

    def to_hf(self, ir: TransformerIR, state: dict) -> dict:
        out = super().to_hf(ir, state)
        for ours, theirs in self.renames(ir):
            if is_norm_weight(ours):
                out[theirs] = out[theirs] - 1.0
        return out

    def from_hf(self, ir: TransformerIR, hf_state: dict) -> dict:
        out = super().from_hf(ir, hf_state)
        for ours in out:
            if is_norm_weight(ours):
                out[ours] = out[ours].float() + 1.0  # as transformers: 1 + w in fp32
        return out

    def gate_activation(self, fields: GemmaFields) -> str:
        return gemma_hidden_act(fields)

    def model_section(self, fields: GemmaFields) -> dict[str, Any]:
        if fields.use_bidirectional_attention:
            raise HFConfigError(f"{self.model_type} config: use_bidirectional_attention=true; light_llm "
                                "imports causal language models only (allowed: false or null)")
        section = super().model_section(fields.model_copy(update={"hidden_act": self.gate_activation(fields)}))
        section["embedding_scale"] = "sqrt_d_model"
        return section


def gemma_activation(name: str) -> str:
    """light_llm's gate activation → the name a Gemma config.json carries."""
    return TANH_GELU if name == "gelu_tanh" else name


def gemma_hidden_act(fields: GemmaFields) -> str:
    """The activation transformers uses: hidden_act, where "gelu" means the tanh
    approximation; hidden_activation (transformers 4.x) must agree when set."""
    act = TANH_GELU if fields.hidden_act == "gelu" else fields.hidden_act
    legacy = fields.hidden_activation
    if legacy is not None and activation(legacy) != activation(act):
        raise HFConfigError(
            f"gemma config: hidden_act={fields.hidden_act!r} and hidden_activation={legacy!r} "
            "differ (transformers 5 reads the first, 4.x the second); allowed: the same activation"
        )
    return act


ARCHITECTURE = Gemma()
