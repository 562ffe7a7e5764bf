"""The Mixer's compile report: sizes and the parameter count, from the IR."""

from __future__ import annotations

from rich.text import Text

from light_llm.formatting import human
from light_llm.models.mixer.config import MixerIR


def parameters(ir: MixerIR) -> int:
    layer = (
        ir.max_seq_len**2  # token mixing
        + 2 * 2 * ir.d_model  # two LayerNorms
        + 2 * ir.d_model * ir.hidden_dim + ir.hidden_dim + ir.d_model  # channel MLP
    )
    return ir.vocab_size * ir.d_model * 2 + ir.num_layers * layer + 2 * ir.d_model


def summary(ir: MixerIR) -> Text:
    count = parameters(ir)
    return Text("\n".join([
        f"mixer: {ir.num_layers} layers, d_model {ir.d_model}, hidden {ir.hidden_dim}, "
        f"max_seq_len {ir.max_seq_len}, vocab {ir.vocab_size}",
        f"parameters          {count:,} ({human(count)})",
        "KV cache            none: exports take the whole sequence",
    ]))
