"""Tiny Transformers for the model tests: d_model 32, 2 layers, a 61-token vocabulary."""

from __future__ import annotations

from typing import Any

import torch

from light_llm.compiler.build import build
from light_llm.models.transformer.ir import Target, TransformerIR
from light_llm.models.transformer.lower import lower
from light_llm.models.transformer.config import TransformerConfig

VOCAB = 61
TINY: dict[str, Any] = {"vocab_size": VOCAB, "d_model": 32, "num_layers": 2, "max_seq_len": 24}


def merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` merged in, nested sections key by key."""
    out = dict(base)
    for key, value in overrides.items():
        out[key] = merged(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def tiny_ir(target: Target = "eager", **overrides: Any) -> TransformerIR:
    """A tiny model's IR; overrides nest like the spec (`attention={"variant": "mqa"}`)."""
    overrides.setdefault("attention", {})
    overrides["attention"] = {"num_heads": 4, **overrides["attention"]}
    return lower(TransformerConfig.model_validate(merged(TINY, overrides)), target=target)


def tiny_model(target: Target = "eager", seed: int = 0, **overrides: Any) -> torch.nn.Module:
    return build(tiny_ir(target, **overrides), seed=seed).eval()


def tokens(batch: int, seq: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, VOCAB, (batch, seq), generator=torch.Generator().manual_seed(seed))
