"""Any spec the loader accepts (here within small sizes, every option and the extremes of
each bounded number) lowers, builds, runs forward and backward with finite values, and,
when causal, decodes through the KV cache to the logits of the full forward."""

from __future__ import annotations

from typing import Any

import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from light_llm.compiler.build import build
from light_llm.compiler.pipeline import lower_spec
from light_llm.models.transformer.config import EPS_RANGE, FP32_TINY, MAX_ATTENTION_SCALE, MAX_INIT_STD, ROPE_BASE_RANGE
from light_llm.schemas.errors import SpecError
from light_llm.schemas.load import load_spec


def _maybe(values: list[Any]) -> st.SearchStrategy:
    return st.sampled_from(values)


ATTENTION = st.fixed_dictionaries(
    {
        "variant": _maybe(["mha", "gqa", "mqa", "complex"]),
        "num_heads": _maybe([1, 2, 4]),
        "mask_type": _maybe(["causal", "bidirectional", "sliding_window"]),
    },
    optional={
        "num_kv_heads": _maybe([1, 2, "auto"]),
        "head_dim": _maybe([2, 4, 6, "auto"]),
        "bias": st.booleans(),
        "dropout": _maybe([0.0, 0.5]),
        "window_size": _maybe([1, 2, 5]),
        "scale": _maybe([FP32_TINY, 1.0, MAX_ATTENTION_SCALE]),
        "qk_norm": _maybe(["per_head", "whole"]),
    },
)
POSITIONAL = st.one_of(
    st.fixed_dictionaries(
        {"encoding": st.just("rope")},
        optional={
            "rope_base": _maybe([ROPE_BASE_RANGE[0], 10000, ROPE_BASE_RANGE[1]]),
            "rope_scaling": _maybe([None, 1.5, 1024]),
        },
    ),
    st.fixed_dictionaries({"encoding": _maybe(["alibi", "sinusoidal", "learned", "none"])}),
)
FFN = st.fixed_dictionaries(
    {"variant": _maybe(["swiglu", "geglu", "mlp"])},
    optional={"expansion_factor": _maybe([0.25, 1, 2.6667, 8.0])},  # 0.25·4: the least hidden size
)
NORM = st.fixed_dictionaries(
    {},
    optional={
        "type": _maybe(["rmsnorm", "layernorm"]),
        "placement": _maybe(["pre", "post", "sandwich"]),
        "eps": _maybe([EPS_RANGE[0], 1e-5, EPS_RANGE[1]]),
    },
)
MODEL = st.fixed_dictionaries(
    {
        "vocab_size": _maybe([1, 7, 64]),
        "d_model": _maybe([4, 8, 12, 16]),
        "num_layers": _maybe([1, 2]),
        "max_seq_len": _maybe([1, 2, 5, 9]),
        "attention": ATTENTION,
        "positional": POSITIONAL,
        "ffn": FFN,
        "norm": NORM,
    },
    optional={
        "tie_embeddings": st.booleans(),
        "parallel_layers": st.booleans(),
        "dropout": _maybe([0.0, 0.3]),
        "init_std": _maybe([FP32_TINY, 0.02, MAX_INIT_STD]),
        "residual_scaled_init": st.booleans(),
    },
)


def accepted(model: dict[str, Any]):
    try:
        return load_spec({"model": model, "train": {"seed": 0}})
    except SpecError:
        return None


def decode_step_by_step(module, ids: torch.Tensor) -> torch.Tensor:
    batch, seq = ids.shape
    cache = module.empty_cache(batch)
    logits = []
    for step in range(seq):
        mask = torch.ones(batch, step + 1, dtype=torch.long)
        positions = torch.full((batch, 1), step)
        out, cache = module.forward_with_cache(ids[:, step : step + 1], mask, positions, cache)
        logits.append(out)
    return torch.cat(logits, dim=1)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow]
)
@given(MODEL, st.data())
def test_every_accepted_spec_builds_runs_and_decodes(model: dict[str, Any], data) -> None:
    spec = accepted(model)
    assume(spec is not None)
    module = build(lower_spec(spec), seed=0)
    seq = data.draw(st.integers(1, spec.model.max_seq_len), label="sequence length")
    ids = torch.randint(0, lower_spec(spec).vocab_size, (2, seq))

    module.train()
    logits = module(ids)
    assert torch.isfinite(logits).all()
    logits.float().logsumexp(-1).mean().backward()
    for name, parameter in module.named_parameters():
        assert parameter.grad is None or torch.isfinite(parameter.grad).all(), name

    module.eval()
    with torch.no_grad():
        full = module(ids)
        assert torch.isfinite(full).all()
        if spec.model.attention.mask_type != "bidirectional":
            decoded = decode_step_by_step(module, ids)
            scale = max(1.0, float(full.abs().max()))
            assert float((decoded - full).abs().max()) <= 1e-4 * scale
