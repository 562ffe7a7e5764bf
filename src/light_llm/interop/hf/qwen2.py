"""Qwen2 / Qwen2.5: Llama with biases on Q, K and V only (`attention.bias: qkv`, fixed by
the architecture), no FFN biases. Its sliding window is per layer (layers from
`max_window_layers` on, when `use_sliding_window`); light_llm has one mask for every
layer, so a config mixing windowed and global layers is refused naming those fields;
all-global (the released checkpoints) and all-windowed configs map."""

from __future__ import annotations

from typing import Any

from pydantic import NonNegativeInt

from light_llm.interop.attention_needs import QK_NORM_OFF, bias_need
from light_llm.interop.hf.base import FFN_BIAS, MASK, HFConfigError, Need, block
from light_llm.interop.hf.llama import LLAMA_NEEDS, Llama, LlamaFields
from light_llm.models.transformer.ir import TransformerIR

SLIDING = "sliding_attention"


class Qwen2Fields(LlamaFields):
    use_sliding_window: bool = False
    max_window_layers: NonNegativeInt = 28
    layer_types: list[str] | None = None


class Qwen2(Llama):
    model_type = "qwen2"
    hf_class = "Qwen2ForCausalLM"
    fields = Qwen2Fields
    needs = LLAMA_NEEDS + (
        Need("model.attention.mask_type", MASK, ("causal", "sliding_window")),
        Need("model.ffn.bias", FFN_BIAS, (False,)),
        bias_need("qkv"),
        QK_NORM_OFF,
    )

    def config_extra(self, ir: TransformerIR) -> dict[str, Any]:
        window = block(ir).attention.window_size
        if window is None:
            return {"use_sliding_window": False, "sliding_window": None,
                    "max_window_layers": ir.num_layers}
        return {"use_sliding_window": True, "sliding_window": window, "max_window_layers": 0}

    def model_section(self, fields: Qwen2Fields) -> dict[str, Any]:
        section = super().model_section(fields)
        section["attention"]["bias"] = "qkv"
        return section

    def mask_from(self, fields: Qwen2Fields) -> dict[str, Any]:
        windowed = windowed_layers(fields)
        if not any(windowed):
            return {"mask_type": "causal"}
        if all(windowed):
            return {"mask_type": "sliding_window", "window_size": fields.sliding_window}
        raise HFConfigError(
            f"{self.model_type} config: use_sliding_window=true with max_window_layers="
            f"{fields.max_window_layers} / layer_types gives {sum(windowed)} windowed and "
            f"{len(windowed) - sum(windowed)} global layers; light_llm has one mask for every "
            "layer (allowed: all layers windowed or none)"
        )


def windowed_layers(fields: Qwen2Fields) -> list[bool]:
    """Per layer, whether transformers gives it the sliding window."""
    if not fields.use_sliding_window or fields.sliding_window is None:
        return [False] * fields.num_hidden_layers
    if fields.layer_types is not None:
        return [kind == SLIDING for kind in fields.layer_types]
    return [i >= fields.max_window_layers for i in range(fields.num_hidden_layers)]


ARCHITECTURE = Qwen2()
