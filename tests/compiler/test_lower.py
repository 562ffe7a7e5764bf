"""Lowering: kernels chosen with their reasons, every auto resolved, the compile report,
and spec → resolved spec → IR giving the same IR."""

from __future__ import annotations

import io

import pytest
import torch
from rich.console import Console

from light_llm.models.transformer.lower import lower
from light_llm.compiler.pipeline import lower_spec
from light_llm.compiler.resolve import resolve_spec
from light_llm.compiler.summary import compile_summary, human
from light_llm.models.transformer.config import TransformerConfig
from light_llm.schemas.load import load_spec

TINY = {"vocab_size": 53, "d_model": 32, "num_layers": 2, "max_seq_len": 16}


def report_text(ir) -> str:
    console = Console(file=io.StringIO(), width=160)
    console.print(compile_summary(ir))
    return console.file.getvalue()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU choice; needs no CUDA")
def test_flash_requested_on_cpu_compiles_to_sdpa_and_the_report_says_so():
    ir = lower(TransformerConfig.model_validate({**TINY, "attention": {"use_flash_attn": True}}))
    attention = ir.blocks[0].attention
    assert attention.kernel == "sdpa"
    text = report_text(ir)
    assert "attention kernel    sdpa: use_flash_attn is set but CUDA is not available: SDPA is used on CPU" in text


@pytest.mark.parametrize("target,kernel", [("eager", "complex_eager"), ("export", "complex_as_real")])
def test_complex_attention_kernel_per_target(target, kernel):
    ir = lower(TransformerConfig.model_validate({**TINY, "attention": {"variant": "complex"}}), target=target)
    assert ir.blocks[0].attention.kernel == kernel
    assert kernel in report_text(ir)


def test_auto_values_are_resolved():
    ir = lower(TransformerConfig.model_validate({**TINY, "d_model": 64, "attention": {"num_heads": 8}}))
    attention = ir.blocks[0].attention
    assert (attention.num_kv_heads, attention.head_dim) == (2, 8)
    assert ir.blocks[0].ffn.hidden_dim == 176  # 2.6667 · 64 = 170.7, up to a multiple of 8
    with pytest.raises(ValueError, match="vocab_size is 'auto'"):
        lower(TransformerConfig(d_model=32))


def test_report_lists_every_layer_and_the_totals():
    ir = lower(TransformerConfig.model_validate({**TINY, "num_layers": 3, "tie_embeddings": False}))
    text = report_text(ir)
    for index in range(3):
        assert f"│ {index} " in text
    assert "gqa 8q/2kv×4 causal" in text
    from light_llm.models.transformer.cost import model_cost

    cost = model_cost(ir)
    assert f"parameters          {cost.parameters:,}" in text
    assert f"forward {human(cost.forward_flops_per_token)}" in text
    assert "active parameters" not in text  # dense: every parameter is active
    assert f"{human(cost.kv_cache_bytes(16), 'B')} per sequence at max_seq_len 16" in text


def test_report_shows_the_block_options():
    ir = lower(TransformerConfig.model_validate({
        **TINY, "parallel_layers": True, "parallel_norms": "separate", "lm_head_bias": True,
        "ffn": {"variant": "geglu", "activation": "gelu_tanh"}}))
    text = report_text(ir)
    assert "(gelu_tanh)" in text and "pre parallel (2 norms)" in text and "tied to embed + bias" in text
    assert "rmsnorm output" in report_text(lower(TransformerConfig.model_validate(
        {**TINY, "norm": {"placement": "output"}})))


def test_human_units():
    assert human(1_234_567) == "1.23M" and human(999) == "999" and human(2048, "B") == "2.00 KiB"


@pytest.mark.parametrize("model", [
    {"d_model": 32, "attention": {"num_heads": 4}},
    {"d_model": 32, "attention": {"variant": "mqa", "num_heads": 2}, "ffn": {"variant": "mlp"},
     "positional": {"encoding": "alibi"}},
    {"d_model": 48, "attention": {"variant": "complex", "num_heads": 4, "mask_type": "sliding_window",
                                  "window_size": 4}, "norm": {"placement": "sandwich"}},
    {"d_model": 32, "attention": {"num_heads": 4}, "ffn": {"variant": "geglu", "activation": "gelu_tanh"},
     "parallel_layers": True, "parallel_norms": "separate", "lm_head_bias": True},
    {"d_model": 32, "attention": {"num_heads": 4}, "ffn": {"variant": "geglu", "activation": "gelu"},
     "norm": {"placement": "output"}},
    {"d_model": 32, "attention": {"num_heads": 4},
     "ffn": {"expansion_factor": 1.5, "moe": {"experts": 4, "router": "topk_softmax", "first_dense_layers": 1}}},
])
def test_resolved_spec_compiles_to_the_same_ir(model):
    spec = load_spec({"model": {**model, "num_layers": 2, "max_seq_len": 16}})
    resolved = resolve_spec(spec)
    assert lower_spec(resolved) == lower_spec(spec)
    again = load_spec(__import__("json").loads(resolved.to_json()))
    assert lower_spec(again) == lower_spec(spec)
    assert again.model.vocab_size != "auto" and again.model.attention.num_kv_heads != "auto"
    assert again.model.ffn.moe is None or again.model.ffn.moe.expansion_factor != "auto"
