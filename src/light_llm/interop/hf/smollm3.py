"""SmolLM3: Llama's layout in which some layers have no positional encoding (NoPE): their Q
and K are not rotated. `no_rope_layers` (1: rotated, 0: NoPE; else every
`no_rope_layer_interval`-th layer is NoPE, as transformers fills it) is
`positional.layer_pattern`, written as its shortest repeating period. SmolLM3's sliding
window (`use_sliding_window`, on the NoPE layers) has no mapping here."""

from __future__ import annotations

from typing import Any

from pydantic import PositiveInt

from light_llm.interop.hf.base import HFConfigError
from light_llm.interop.hf.llama import Llama, LlamaFields
from light_llm.models.transformer.ir import TransformerIR

NO_ROPE_INTERVAL = 4  # transformers' SmolLM3Config default


class SmolLM3Fields(LlamaFields):
    no_rope_layers: list[int] | None = None
    no_rope_layer_interval: PositiveInt = NO_ROPE_INTERVAL
    use_sliding_window: bool = False
    tie_word_embeddings: bool = True


def shortest_period(values: list[Any]) -> list[Any]:
    """The shortest prefix p with values[i] == p[i mod len(p)] for every i."""
    return next(values[:n] for n in range(1, len(values) + 1)
                if all(value == values[i % n] for i, value in enumerate(values)))


class SmolLM3(Llama):
    model_type = "smollm3"
    hf_class = "SmolLM3ForCausalLM"
    fields = SmolLM3Fields
    needs = tuple(need for need in Llama.needs if need.path != "model.positional.layer_pattern")

    def config_extra(self, ir: TransformerIR) -> dict[str, Any]:
        rotated = [int(block.attention.positional.encoding == "rope") for block in ir.blocks]
        return super().config_extra(ir) | {"no_rope_layers": rotated, "use_sliding_window": False}

    def model_section(self, fields: SmolLM3Fields) -> dict[str, Any]:
        if fields.use_sliding_window:
            raise HFConfigError("smollm3 config: use_sliding_window: true has no light_llm mapping "
                                "(a window on the NoPE layers only); allowed: false")
        layers = fields.num_hidden_layers
        rotated = fields.no_rope_layers
        if rotated is None:
            rotated = [int((i + 1) % fields.no_rope_layer_interval != 0) for i in range(layers)]
        if len(rotated) != layers or set(rotated) - {0, 1}:
            raise HFConfigError(f"smollm3 config: no_rope_layers: got {rotated}; allowed: "
                                f"{layers} entries (num_hidden_layers), each 0 or 1")
        section = super().model_section(fields)
        if 0 in rotated:
            section["positional"]["layer_pattern"] = shortest_period(
                ["rope" if flag else "none" for flag in rotated])
        return section


ARCHITECTURE = SmolLM3()
