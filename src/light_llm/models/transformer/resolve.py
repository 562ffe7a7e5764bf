"""The Transformer's resolved model section: every "auto" replaced by the value chosen.

Options that do not apply to the chosen variants (the positional keys another encoding
reads, the FFN keys another variant reads, the activation of an FFN variant that fixes
its own) are left out, so the
resolved spec validates and compiles to the same IR.
"""

from __future__ import annotations

from typing import Any

from light_llm.models.transformer.config import TransformerConfig
from light_llm.models.transformer.options import FFN_VARIANTS, POSITIONAL_ENCODINGS, owned_ffn_options


def resolve(config: TransformerConfig, vocab_size: int | None) -> dict[str, Any]:
    data = config.model_dump(by_alias=True, exclude_none=True)
    data["vocab_size"] = vocab_size or config.vocab_size
    data["attention"]["num_kv_heads"] = config.attention.resolved_num_kv_heads()
    data["attention"]["head_dim"] = config.resolved_head_dim()
    data["attention"]["scale"] = config.resolved_attention_scale()
    positional = data["positional"]
    for key in POSITIONAL_ENCODINGS[config.positional.encoding].options_not_read(positional):
        positional.pop(key, None)
    for key in set(owned_ffn_options()) - set(FFN_VARIANTS[config.ffn.variant].options):
        data["ffn"].pop(key)
    fixed = FFN_VARIANTS[config.ffn.variant].activation
    if fixed:
        if config.ffn.resolved_activation() == fixed:
            data["ffn"].pop("activation")
        else:
            data["ffn"]["activation"] = config.ffn.resolved_activation()
    moe = config.ffn.moe
    if moe is not None and moe.expansion_factor == "auto":
        data["ffn"]["moe"]["expansion_factor"] = config.ffn.expansion_factor
    return data
