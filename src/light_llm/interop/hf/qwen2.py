"""Qwen2 / Qwen2.5: Llama with biases on Q, K and V only (`attention.bias: qkv`, fixed by
the architecture), no FFN biases. Its sliding window is per layer: `layer_types` where
config.json lists them, else the layers from `max_window_layers` on, when
`use_sliding_window`; a mix of windowed and full layers is `attention.layer_pattern`."""

from __future__ import annotations

from typing import Any

from pydantic import NonNegativeInt

from light_llm.interop.attention_needs import QK_NORM_OFF, bias_need
from light_llm.interop.hf.base import NO_FFN_BIAS, WINDOWED_MASK
from light_llm.interop.hf.llama import LLAMA_NEEDS, Llama, LlamaFields
from light_llm.interop.hf_layers import SLIDING, checked_layer_types, layer_types, mask_section
from light_llm.models.transformer.ir import TransformerIR

PER_LAYER_NEEDS = tuple(need for need in LLAMA_NEEDS if need.path != "model.attention.layer_pattern")


class Qwen2Fields(LlamaFields):
    use_sliding_window: bool = False
    max_window_layers: NonNegativeInt = 28
    layer_types: list[str] | None = None


class Qwen2(Llama):
    model_type = "qwen2"
    hf_class = "Qwen2ForCausalLM"
    fields = Qwen2Fields
    needs = PER_LAYER_NEEDS + (
        WINDOWED_MASK,
        NO_FFN_BIAS,
        bias_need("qkv"),
        QK_NORM_OFF,
    )

    def config_extra(self, ir: TransformerIR) -> dict[str, Any]:
        types = layer_types(ir)
        windows = {b.attention.window_size for b in ir.blocks} - {None}
        if not windows:
            return {"use_sliding_window": False, "sliding_window": None,
                    "max_window_layers": ir.num_layers, "layer_types": types}
        full = types.index(SLIDING)  # max_window_layers: exact where full layers come first
        return {"use_sliding_window": True, "sliding_window": windows.pop(),
                "max_window_layers": full, "layer_types": types}

    def model_section(self, fields: Qwen2Fields) -> dict[str, Any]:
        section = super().model_section(fields)
        section["attention"]["bias"] = "qkv"
        return section

    def mask_from(self, fields: Qwen2Fields) -> dict[str, Any]:
        if not fields.use_sliding_window or fields.sliding_window is None:
            return {"mask_type": "causal"}  # transformers drops the window then
        return mask_section(self.model_type, windowed_layers(self.model_type, fields), fields.sliding_window)


def windowed_layers(model_type: str, fields: Qwen2Fields) -> list[bool]:
    """Per layer, whether transformers gives it the sliding window."""
    if fields.layer_types is not None:
        return [kind == SLIDING for kind in checked_layer_types(model_type, fields.layer_types, fields.num_hidden_layers)]
    return [i >= fields.max_window_layers for i in range(fields.num_hidden_layers)]


ARCHITECTURE = Qwen2()
