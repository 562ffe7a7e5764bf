"""Cross-field rules written again in JSON Schema (if/then/else), so that other programs
validating a spec with the published schema alone reject what light_llm rejects where the
schema language can say it. The rules themselves live in the pydantic models; a test
checks that both layers agree on every example here.

Each `then`/`else` branch carries a `description` that the loader prints as the message.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from light_llm.models.transformer.config import (
    AttentionConfig,
    FFNConfig,
    PositionalConfig,
    RopeScalingConfig,
    TransformerConfig,
)
from light_llm.models.transformer.options import (
    FFN_VARIANTS,
    activation_choices,
    ffn_option_readers,
    free_activation_variants,
    owned_ffn_options,
    readers,
)
from light_llm.schemas.spec import Spec

JsonSchema = dict[str, Any]


def _when(key: str, value: str | list[str], *, default: bool) -> JsonSchema:
    """A condition on `key == value` (or `key in value`); `default` says whether an absent
    key matches."""
    test = {"enum": value} if isinstance(value, list) and len(value) > 1 else {
        "const": value[0] if isinstance(value, list) else value
    }
    condition: JsonSchema = {"properties": {key: test}}
    if not default:
        condition["required"] = [key]
    return condition


def _one_of(names: list[str]) -> str:
    return " or ".join(repr(name) for name in names)


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

LAYER_PATTERN_NEEDS_A_WINDOW: JsonSchema = {
    "if": _when("mask_type", "sliding_window", default=False),
    "else": _forbidden("layer_pattern", "only allowed with mask_type 'sliding_window'", allow_null=True),
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

def _false(key: str, message: str) -> JsonSchema:
    return {"properties": {key: {"const": False, "description": message}}}


FLASH_ATTN_ON: JsonSchema = {"properties": {"use_flash_attn": {"const": True}}, "required": ["use_flash_attn"]}

COMPLEX_WITHOUT_FLASH_ATTN: JsonSchema = {
    "if": _when("variant", "complex", default=False),
    "then": _false("use_flash_attn", "flash-attn has no kernel for variant 'complex'; set it to false"),
}

SINKS_NOT_WITH_COMPLEX: JsonSchema = {
    "if": _when("variant", "complex", default=False),
    "then": _false("sinks", "no sinks kernel with variant 'complex'; allowed: false"),
}

SINKS_NOT_WITH_FLASH_ATTN: JsonSchema = {
    "if": FLASH_ATTN_ON,
    "then": _false("sinks", "no sinks kernel with use_flash_attn; allowed: false"),
}

SOFTCAP_NOT_WITH_COMPLEX: JsonSchema = {
    "if": _when("variant", "complex", default=False),
    "then": _forbidden("logit_softcap", "not allowed with variant 'complex'; allowed: null",
                       allow_null=True),
}

SOFTCAP_NOT_WITH_FLASH_ATTN: JsonSchema = {
    "if": FLASH_ATTN_ON,
    "then": _forbidden("logit_softcap", "has no flash-attn kernel here; set use_flash_attn to false",
                       allow_null=True),
}


def positional_options_only_with_their_encodings() -> list[JsonSchema]:
    """From the option table: each key of model.positional only with the encodings that
    read it (one rule per group of keys read by the same encodings)."""
    default = PositionalConfig.model_fields["encoding"].default
    groups: dict[tuple[str, ...], list[str]] = {}
    for key in PositionalConfig.model_fields:
        if readers(key):
            groups.setdefault(tuple(readers(key)), []).append(key)
    rules = []
    for names, keys in groups.items():
        message = f"only allowed with encoding {_one_of(list(names))}"
        forbidden = {
            key: {"type": "null"} if PositionalConfig.model_fields[key].default is None else {"not": {}}
            for key in keys
        }
        rules.append({
            "if": _when("encoding", list(names), default=default in names),
            "else": {"properties": {key: {**rule, "description": message} for key, rule in forbidden.items()}},
        })
    return rules


def ffn_options_only_with_their_variants() -> list[JsonSchema]:
    """From the option table: each key of model.ffn that some variants own, only with them."""
    default = FFNConfig.model_fields["variant"].default
    return [{
        "if": _when("variant", ffn_option_readers(key), default=default in ffn_option_readers(key)),
        "else": _forbidden(key, f"only allowed with variant {_one_of(ffn_option_readers(key))}"),
    } for key in owned_ffn_options()]


def activation_only_where_chosen() -> list[JsonSchema]:
    """From the option table: ffn.activation with the variants that take one, and with a
    variant that fixes its own only among that variant's alternatives (geglu: gelu_tanh)."""
    free = free_activation_variants()
    choosing = [name for name in FFN_VARIANTS if name not in free and activation_choices(name)]
    rules = [{
        "if": _when("variant", free + choosing, default=False),
        "else": _forbidden("activation", f"only allowed with variant {_one_of(free + choosing)}"),
    }]
    for name in choosing:
        choices = list(activation_choices(name))
        rules.append({
            "if": _when("variant", name, default=False),
            "then": {"properties": {"activation": {
                "enum": choices, "description": f"variant {name!r} takes activation {_one_of(choices)}"}}},
        })
    return rules


def rope_scaling_keys_by_type() -> list[JsonSchema]:
    """model.positional.rope_scaling: each type's required keys, and no key of another type."""
    required = RopeScalingConfig.required_keys()
    rules = []
    for kind in ("linear", "llama3", "yarn"):
        then: JsonSchema = {"properties": {
            key: {"type": "null", "description": f"only allowed with type {_one_of(list(owners))}"}
            for key, owners in RopeScalingConfig.owners().items() if kind not in owners
        }}
        if required.get(kind):
            then["required"] = list(required[kind])
            then["description"] = f"required with type {kind!r}"
            then["properties"] |= {key: {"not": {"type": "null"}, "description": f"required with type {kind!r}"}
                                   for key in required[kind]}
        rules.append({"if": _when("type", kind, default=False), "then": then})
    return rules


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

SEPARATE_PARALLEL_NORMS: list[JsonSchema] = [
    {
        "if": _when("parallel_layers", [True], default=False),
        "else": {"properties": {"parallel_norms": {
            "const": "shared", "description": "'separate' is only allowed with parallel_layers: true"}}},
    },
    {
        "if": {"required": ["norm"], "properties": {"norm": _when("placement", ["post", "output"], default=False)}},
        "then": {"properties": {"parallel_norms": {
            "const": "shared",
            "description": "'separate' input norms need norm.placement 'pre' or 'sandwich'"}}},
    },
]


def conditional_rules() -> dict[type[BaseModel], list[JsonSchema]]:
    """The root Spec's rules go on the schema's root, every other model's on its $defs
    entry. Built when the schema is generated, so option-table entries added later count."""
    return {
        Spec: [BPE_NEEDS_A_VOCAB_SIZE],
        AttentionConfig: [SLIDING_WINDOW, MQA_ONE_KV_HEAD, COMPLEX_WITHOUT_FLASH_ATTN,
                          SOFTCAP_NOT_WITH_COMPLEX, SOFTCAP_NOT_WITH_FLASH_ATTN,
                          SINKS_NOT_WITH_COMPLEX, SINKS_NOT_WITH_FLASH_ATTN,
                          LAYER_PATTERN_NEEDS_A_WINDOW],
        PositionalConfig: positional_options_only_with_their_encodings(),
        FFNConfig: activation_only_where_chosen() + ffn_options_only_with_their_variants(),
        TransformerConfig: SEPARATE_PARALLEL_NORMS,
        RopeScalingConfig: rope_scaling_keys_by_type(),
    }
