"""The Transformer family's expected failures, each a LightLLMError with a one-line message."""

from light_llm.errors import LightLLMError


class LoweringError(LightLLMError):
    """A config that cannot be lowered as asked (e.g. vocab_size auto without a tokenizer)."""


class ModelInputError(LightLLMError):
    """An input the built model cannot take (a position past the learned table, decoding a
    bidirectional model incrementally)."""


class IRError(LightLLMError):
    """An IR that breaks its own invariants (built by hand rather than by lowering)."""
