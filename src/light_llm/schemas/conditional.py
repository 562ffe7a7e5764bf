"""Cross-field rules written again in JSON Schema (if/then/else), so that other programs
validating a spec with the published schema alone reject what light_llm rejects where the
schema language can say it. The rules themselves live in the pydantic models; a test
checks that both layers agree on every example here.

Each `then`/`else` branch carries a `description` that the loader prints as the message.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from light_llm.models.transformer.config import AttentionConfig, FFNConfig, PositionalConfig
from light_llm.schemas.spec import Spec

JsonSchema = dict[str, Any]


def _when(key: str, value: str, *, default: bool) -> JsonSchema:
    """A condition on `key == value`; `default` says whether an absent key matches."""
    condition: JsonSchema = {"properties": {key: {"const": value}}}
    if not default:
        condition["required"] = [key]
    return condition


def _forbidden(key: str, message: str, *, allow_null: bool = False) -> JsonSchema:
    rule: JsonSchema = {"type": "null"} if allow_null else {"not": {}}
    return {"properties": {key: {**rule, "description": message}}}


SLIDING_WINDOW: JsonSchema = {
    "if": _when("mask_type", "sliding_window", default=False),
    "then": {
        "required": ["window_size"],
        "properties": {
            "window_size": {
                "type": "integer",
                "description": "required (a positive integer) when mask_type is 'sliding_window'",
            }
        },
        "description": "required when mask_type is 'sliding_window'",
    },
    "else": _forbidden(
        "window_size", "only allowed with mask_type 'sliding_window'", allow_null=True
    ),
}

MQA_ONE_KV_HEAD: JsonSchema = {
    "if": _when("variant", "mqa", default=False),
    "then": {
        "properties": {
            "num_kv_heads": {
                "enum": [1, "auto"],
                "description": "variant 'mqa' uses exactly 1 KV head",
            }
        }
    },
}

COMPLEX_WITHOUT_FLASH_ATTN: JsonSchema = {
    "if": _when("variant", "complex", default=False),
    "then": {
        "properties": {
            "use_flash_attn": {
                "const": False,
                "description": "flash-attn has no kernel for variant 'complex'; set it to false",
            }
        }
    },
}

ROPE_OPTIONS_ONLY_WITH_ROPE: JsonSchema = {
    "if": _when("encoding", "rope", default=True),
    "else": {
        "properties": {
            "rope_base": {"not": {}, "description": "only allowed with encoding 'rope'"},
            "rope_scaling": {"type": "null", "description": "only allowed with encoding 'rope'"},
        }
    },
}

ACTIVATION_ONLY_FOR_MLP: JsonSchema = {
    "if": _when("variant", "mlp", default=False),
    "else": _forbidden("activation", "only allowed with variant 'mlp'"),
}

BPE_NEEDS_A_VOCAB_SIZE: JsonSchema = {
    "if": {
        "required": ["data"],
        "properties": {"data": {"required": ["tokenizer"], "properties": {"tokenizer": {"const": "bpe"}}}},
    },
    "then": {
        "properties": {
            "model": {
                "required": ["vocab_size"],
                "properties": {
                    "vocab_size": {
                        "type": "integer",
                        "description": "data.tokenizer 'bpe' needs the vocabulary size to train to",
                    }
                },
            }
        }
    },
}

# The root Spec's rules go on the schema's root, every other model's on its $defs entry.
CONDITIONAL_RULES: dict[type[BaseModel], list[JsonSchema]] = {
    Spec: [BPE_NEEDS_A_VOCAB_SIZE],
    AttentionConfig: [SLIDING_WINDOW, MQA_ONE_KV_HEAD, COMPLEX_WITHOUT_FLASH_ATTN],
    PositionalConfig: [ROPE_OPTIONS_ONLY_WITH_ROPE],
    FFNConfig: [ACTIVATION_ONLY_FOR_MLP],
}
