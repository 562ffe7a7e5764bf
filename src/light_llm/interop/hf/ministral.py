"""Ministral: Mistral with the sliding window per layer (`layer_types`: sliding_attention /
full_attention; every layer windowed when config.json leaves it out and sets
sliding_window) → `attention.layer_pattern`. The export of a Mistral-layout spec with a
layer pattern (MistralForCausalLM has one mask for every layer)."""

from __future__ import annotations

from typing import Any

from light_llm.interop.attention_needs import QK_NORM_OFF
from light_llm.interop.hf.base import NO_ATTENTION_BIAS, NO_FFN_BIAS, WINDOWED_MASK, HFConfigError
from light_llm.interop.hf.llama import LlamaFields
from light_llm.interop.hf.mistral import Mistral
from light_llm.interop.hf.qwen2 import PER_LAYER_NEEDS
from light_llm.interop.hf_layers import FULL, SLIDING, layer_types, mask_section
from light_llm.models.transformer.ir import TransformerIR


class MinistralFields(LlamaFields):
    layer_types: list[str] | None = None


class Ministral(Mistral):
    model_type = "ministral"
    hf_class = "MinistralForCausalLM"
    fields = MinistralFields
    needs = PER_LAYER_NEEDS + (
        WINDOWED_MASK,
        NO_ATTENTION_BIAS,
        NO_FFN_BIAS,
        QK_NORM_OFF,
    )

    def config_extra(self, ir: TransformerIR) -> dict[str, Any]:
        windows = {b.attention.window_size for b in ir.blocks} - {None}
        return {"sliding_window": windows.pop() if windows else None, "layer_types": layer_types(ir)}

    def mask_from(self, fields: MinistralFields) -> dict[str, Any]:
        types = fields.layer_types
        if types is None:
            types = [SLIDING if fields.sliding_window is not None else FULL] * fields.num_hidden_layers
        if len(types) != fields.num_hidden_layers or set(types) - {SLIDING, FULL}:
            raise HFConfigError(f"ministral config: layer_types={types!r}; allowed: one of {SLIDING!r}, "
                                f"{FULL!r} per layer ({fields.num_hidden_layers})")
        return mask_section(self.model_type, [kind == SLIDING for kind in types], fields.sliding_window)


ARCHITECTURE = Ministral()
