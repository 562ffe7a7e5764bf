"""The resolved spec: the user's spec with every "auto" replaced by the value chosen
(by the model family's `resolve`), so that it validates and compiles to the same IR."""

from __future__ import annotations

from light_llm.compiler.pipeline import resolve_vocab_size
from light_llm.models.registry import family
from light_llm.schemas.spec import Spec


def resolve_spec(spec: Spec) -> Spec:
    data = spec.model_dump(by_alias=True, exclude_none=True)
    data["model"] = family(spec.model.name).resolve_config(spec.model, resolve_vocab_size(spec))
    return Spec.model_validate(data)
