"""The resolved spec: the user's spec with every "auto" replaced by the value chosen.

Options that do not apply to the chosen variants (rope_* without rope, activation of a
gated FFN) are left out, so the resolved spec validates and compiles to the same IR.
"""

from __future__ import annotations

from light_llm.compiler.pipeline import resolve_vocab_size
from light_llm.schemas.spec import Spec


def resolve_spec(spec: Spec) -> Spec:
    model = spec.model
    data = spec.model_dump(by_alias=True, exclude_none=True)
    model_data = data["model"]
    model_data["vocab_size"] = resolve_vocab_size(spec) or model.vocab_size
    model_data["attention"]["num_kv_heads"] = model.attention.resolved_num_kv_heads()
    model_data["attention"]["head_dim"] = model.resolved_head_dim()
    if model.positional.encoding != "rope":
        for key in ("rope_base", "rope_scaling"):
            model_data["positional"].pop(key, None)
    if model.ffn.variant != "mlp":
        model_data["ffn"].pop("activation")
    return Spec.model_validate(data)
