"""The spec-level entry points: resolve what depends on other sections, lower, build."""

from __future__ import annotations

from light_llm.models.transformer.ir import Target
from light_llm.models.registry import family
from light_llm.schemas.spec import Spec


def resolve_vocab_size(spec: Spec) -> int | None:
    """The tokenizer's vocabulary size where `model.vocab_size` is auto, else None."""
    if spec.model.vocab_size != "auto":
        return None
    from light_llm.tokenizer import tokenizer_vocab_size

    return tokenizer_vocab_size(spec.data)


def lower_spec(spec: Spec, target: Target = "eager"):
    """Spec → IR for `target` ("eager" or "export"), every auto value resolved."""
    return family(spec.model.name).lower_config(
        spec.model, vocab_size=resolve_vocab_size(spec), target=target
    )
