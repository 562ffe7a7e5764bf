"""Mistral: Llama with a sliding-window mask (Hugging Face keeps keys with q - k < window,
as light_llm does) and no biases."""

from __future__ import annotations

from typing import Any

from light_llm.interop.hf.base import MASK, NO_ATTENTION_BIAS, NO_FFN_BIAS, Need, block
from light_llm.interop.attention_needs import QK_NORM_OFF
from light_llm.interop.hf.llama import LLAMA_NEEDS, Llama, LlamaFields
from light_llm.models.transformer.ir import TransformerIR


class Mistral(Llama):
    model_type = "mistral"
    hf_class = "MistralForCausalLM"
    needs = LLAMA_NEEDS + (
        Need("model.attention.mask_type", MASK, ("sliding_window",)),
        NO_ATTENTION_BIAS,
        NO_FFN_BIAS,
        QK_NORM_OFF,
    )

    def config_extra(self, ir: TransformerIR) -> dict[str, Any]:
        return {"sliding_window": block(ir).attention.window_size}

    def mask_from(self, fields: LlamaFields) -> dict[str, Any]:
        if not fields.sliding_window:
            return {"mask_type": "causal"}
        return {"mask_type": "sliding_window", "window_size": fields.sliding_window}


ARCHITECTURE = Mistral()
