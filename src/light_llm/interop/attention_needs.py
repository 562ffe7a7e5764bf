"""The attention and model options of issue 12 as Hugging Face architecture needs: how each reads off
the IR (as the spec writes it), and `PLAIN_ATTENTION` — the defaults, for the
architectures that have none of them (llama, mistral, gpt2). Not an architecture file."""

from __future__ import annotations

from typing import Any

from light_llm.interop.hf.base import Need, block
from light_llm.models.transformer.ir import TransformerIR


def attention_bias(ir: TransformerIR) -> Any:
    """As the spec writes it: false, true (all four projections) or 'qkv'."""
    attention = block(ir).attention
    if not attention.bias:
        return False
    return True if attention.output_bias else "qkv"


def qk_norm(ir: TransformerIR) -> str:
    return block(ir).attention.qk_norm


def attention_scale(ir: TransformerIR) -> Any:
    """'auto' where the scale is 1/√head_dim, else the number."""
    attention = block(ir).attention
    return "auto" if attention.score_scale == attention.head_dim ** -0.5 else attention.score_scale


def sinks(ir: TransformerIR) -> bool:
    return block(ir).attention.sinks


def logit_softcap(ir: TransformerIR) -> float | None:
    return block(ir).attention.logit_softcap


def final_logit_softcap(ir: TransformerIR) -> float | None:
    return ir.final_logit_softcap


def embedding_scale(ir: TransformerIR) -> float:
    return ir.embedding_scale


def residual_scale(ir: TransformerIR) -> float:
    return block(ir).residual_scale


def logit_divisor(ir: TransformerIR) -> float:
    return ir.logit_divisor


def bias_need(*allowed: Any) -> Need:
    return Need("model.attention.bias", attention_bias, allowed)


QK_NORM_OFF = Need("model.attention.qk_norm", qk_norm, ("none",))
PLAIN_ATTENTION = (
    Need("model.attention.scale", attention_scale, ("auto",)),
    Need("model.attention.logit_softcap", logit_softcap, (None,)),
    Need("model.attention.sinks", sinks, (False,)),
    Need("model.final_logit_softcap", final_logit_softcap, (None,)),
    Need("model.embedding_scale", embedding_scale, (1.0,)),
    Need("model.residual_scale", residual_scale, (1.0,)),
    Need("model.logit_divisor", logit_divisor, (1.0,)),
)
