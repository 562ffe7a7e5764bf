"""The `model` section for `name: mixer`, its IR and its lowering.

A causal MLP-Mixer: each layer mixes tokens with a learned lower-triangular matrix over
positions (position t reads tokens 0..t only), then mixes channels with an MLP. It has no
attention and no KV cache, so exports take the whole sequence (no past inputs) and
generation re-runs it for each new token.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from pydantic import Field

from light_llm.errors import LightLLMError
from light_llm.models.transformer.config import FP32_TINY, MAX_INIT_STD, MAX_LAYERS, MAX_VOCAB, MAX_WIDTH
from light_llm.spec_base import Auto, CheckedSection, Integer, Number

MAX_MIXED_TOKENS = 16_384
"""max_seq_len: each layer holds a max_seq_len² token-mixing matrix (1 GiB in fp32 here)."""


class MixerConfig(CheckedSection):
    """A causal MLP-Mixer: token mixing over positions, then a channel MLP, per layer."""

    name: Literal["mixer"] = Field("mixer", description="Model family.")
    vocab_size: Integer(1, MAX_VOCAB) | Auto = Field(
        "auto", description="Vocabulary size. auto: the size of the tokenizer in data.tokenizer."
    )
    d_model: Integer(1, MAX_WIDTH) = Field(64, description="Width of each token's vector.")
    num_layers: Integer(1, MAX_LAYERS) = Field(2, description="Number of mixer layers.")
    max_seq_len: Integer(1, MAX_MIXED_TOKENS) = Field(
        64, description="Longest sequence: the token-mixing matrices are max_seq_len × max_seq_len."
    )
    hidden_dim: Integer(1, MAX_WIDTH) = Field(128, description="Hidden width of the channel MLP.")
    init_std: Number(ge=FP32_TINY, le=MAX_INIT_STD) = Field(0.02, description="Standard deviation of weight init.")


@dataclass(frozen=True)
class MixerIR:
    vocab_size: int
    d_model: int
    num_layers: int
    max_seq_len: int
    hidden_dim: int
    init_std: float
    target: str
    family: str = "mixer"

    # What an export needs to know (runtime/geometry.py): no KV cache, no positions input.
    cached: bool = False
    uses_position_ids: bool = False
    num_kv_heads: int = 0
    head_dim: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class MixerLoweringError(LightLLMError):
    """vocab_size auto without a tokenizer to take it from."""


def lower(config: MixerConfig, *, vocab_size: int | None = None, target: str = "eager") -> MixerIR:
    resolved = config.vocab_size if config.vocab_size != "auto" else vocab_size
    if resolved is None:
        raise MixerLoweringError(
            "model.vocab_size is 'auto': it is resolved from the tokenizer; lower the whole spec"
        )
    return MixerIR(
        vocab_size=resolved,
        d_model=config.d_model,
        num_layers=config.num_layers,
        max_seq_len=config.max_seq_len,
        hidden_dim=config.hidden_dim,
        init_std=config.init_std,
        target=target,
    )
