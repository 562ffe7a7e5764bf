"""Tiny model folders for the PyTorch-native export tests (TorchScript, torch.export,
AOTInductor): a pairwise matrix in which every option value of the models doc appears
at least once. d_model 32, 2 layers, the byte tokenizer's 258-token vocabulary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from light_llm.compiler.build import build
from light_llm.compiler.pipeline import lower_spec
from light_llm.compiler.resolve import resolve_spec
from light_llm.model_folder import ModelFolder, load_model_folder, save_model_folder
from light_llm.schemas.spec import Spec

TINY: dict[str, Any] = {"d_model": 32, "num_layers": 2, "max_seq_len": 48, "init_std": 0.2}

ROWS: dict[str, dict[str, Any]] = {
    "mha-rope-scaled-swiglu-rms-pre-tied": {
        "attention": {"variant": "mha", "num_heads": 4},
        "positional": {"encoding": "rope", "rope_base": 500.0, "rope_scaling": 2.0},
        "ffn": {"variant": "swiglu"}, "norm": {"type": "rmsnorm", "placement": "pre"},
    },
    "gqa-alibi-window-geglu-ln-post-parallel-bias": {
        "attention": {"variant": "gqa", "num_heads": 4, "num_kv_heads": 2, "bias": True,
                      "mask_type": "sliding_window", "window_size": 4},
        "positional": {"encoding": "alibi"}, "ffn": {"variant": "geglu", "bias": True},
        "norm": {"type": "layernorm", "placement": "post"},
        "parallel_layers": True, "tie_embeddings": False,
    },
    "mqa-sinusoidal-relu-sandwich-parallel": {
        "attention": {"variant": "mqa", "num_heads": 4},
        "positional": {"encoding": "sinusoidal"},
        "ffn": {"variant": "mlp", "activation": "relu"},
        "norm": {"type": "rmsnorm", "placement": "sandwich"}, "parallel_layers": True,
    },
    "complex-learned-window-gelu-ln-untied": {
        "attention": {"variant": "complex", "num_heads": 4, "mask_type": "sliding_window",
                      "window_size": 5},
        "positional": {"encoding": "learned"}, "ffn": {"variant": "mlp", "activation": "gelu"},
        "norm": {"type": "layernorm", "placement": "pre"}, "tie_embeddings": False,
    },
    "complex-rope-bidirectional-silu-post": {
        "attention": {"variant": "complex", "num_heads": 4, "mask_type": "bidirectional"},
        "positional": {"encoding": "rope"}, "ffn": {"variant": "mlp", "activation": "silu", "bias": True},
        "norm": {"type": "rmsnorm", "placement": "post"},
    },
    "gqa-none-causal-swiglu-ln-sandwich": {
        "attention": {"variant": "gqa", "num_heads": 4, "num_kv_heads": 2},
        "positional": {"encoding": "none"}, "ffn": {"variant": "swiglu"},
        "norm": {"type": "layernorm", "placement": "sandwich"}, "tie_embeddings": False,
    },
    # block-options (issue 12): gelu_tanh in an MLP and in GeGLU's gate, norms on sub-layer
    # outputs only, parallel blocks with two input norms, an LM-head bias (tied and untied).
    "gqa-rope-gelu-tanh-mlp-output-norm-head-bias-tied": {
        "attention": {"variant": "gqa", "num_heads": 4, "num_kv_heads": 2},
        "positional": {"encoding": "rope"}, "ffn": {"variant": "mlp", "activation": "gelu_tanh"},
        "norm": {"type": "rmsnorm", "placement": "output"}, "lm_head_bias": True,
    },
    "mha-learned-geglu-tanh-ln-parallel-separate-head-bias": {
        "attention": {"variant": "mha", "num_heads": 4, "bias": True},
        "positional": {"encoding": "learned"}, "ffn": {"variant": "geglu", "activation": "gelu_tanh"},
        "norm": {"type": "layernorm", "placement": "pre"}, "parallel_layers": True,
        "parallel_norms": "separate", "tie_embeddings": False, "lm_head_bias": True,
    },
    "mqa-rope-swiglu-rms-sandwich-parallel-separate": {
        "attention": {"variant": "mqa", "num_heads": 4},
        "positional": {"encoding": "rope"}, "ffn": {"variant": "swiglu"},
        "norm": {"type": "rmsnorm", "placement": "sandwich"}, "parallel_layers": True,
        "parallel_norms": "separate",
    },
    "gqa-alibi-gelu-tanh-output-norm-parallel": {
        "attention": {"variant": "gqa", "num_heads": 4, "num_kv_heads": 2},
        "positional": {"encoding": "alibi"}, "ffn": {"variant": "mlp", "activation": "gelu_tanh"},
        "norm": {"type": "layernorm", "placement": "output"}, "parallel_layers": True,
    },
    # RoPE options (positions up to 48 go beyond original_max_position_embeddings 16).
    "gqa-rope-llama3-partial-interleaved": {
        "attention": {"variant": "gqa", "num_heads": 4, "num_kv_heads": 2},
        "positional": {"encoding": "rope", "rope_base": 500.0, "rope_fraction": 0.5,
                       "rope_pairing": "interleaved",
                       "rope_scaling": {"type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                        "high_freq_factor": 4.0, "original_max_position_embeddings": 16}},
    },
    "mqa-rope-yarn-partial-half": {
        "attention": {"variant": "mqa", "num_heads": 4},
        "positional": {"encoding": "rope", "rope_base": 500.0, "rope_fraction": 0.75,
                       "rope_scaling": {"type": "yarn", "factor": 4.0,
                                        "original_max_position_embeddings": 16}},
    },
    # Per-layer pattern: sliding-window layers (their own RoPE base) mixed with global ones.
    "gqa-rope-layer-pattern-sliding-base": {
        "num_layers": 3,
        "attention": {"variant": "gqa", "num_heads": 4, "num_kv_heads": 2,
                      "mask_type": "sliding_window", "window_size": 4,
                      "layer_pattern": ["sliding_window", "causal"]},
        "positional": {"encoding": "rope", "rope_base": 1000000.0, "rope_scaling": 2.0, "sliding_rope_base": 100.0},
    },
    # gpt-oss's attention sinks (zeros at init: the sink still takes its share) and clamped
    # SwiGLU, its limit low enough that the clamps act at this init
    "mqa-sinks-clamped-swiglu-window": {
        "attention": {"variant": "mqa", "num_heads": 4, "sinks": True, "mask_type": "sliding_window",
                      "window_size": 4},
        "positional": {"encoding": "rope"},
        "ffn": {"variant": "clamped_swiglu", "swiglu_alpha": 1.5, "swiglu_limit": 0.5},
    },
    "gqa-qkv-bias-qk-norm-per-head-scale-softcaps-embedding-scale": {
        "attention": {"variant": "gqa", "num_heads": 4, "num_kv_heads": 1, "bias": "qkv",
                      "qk_norm": "per_head", "scale": 0.3, "logit_softcap": 3.0},
        "positional": {"encoding": "rope"}, "final_logit_softcap": 2.0,
        "embedding_scale": "sqrt_d_model",
    },
    # Granite's factors and SmolLM3's layers without positional encoding (NoPE)
    "gqa-rope-nope-layers-granite-factors": {
        "num_layers": 3,
        "attention": {"variant": "gqa", "num_heads": 4, "num_kv_heads": 2, "scale": 0.2},
        "positional": {"encoding": "rope", "layer_pattern": ["none", "rope"]},
        "embedding_scale": 3.0, "residual_scale": 0.4, "logit_divisor": 2.5,
    },
    "mha-qk-norm-whole-bias-softcap-window-ln": {
        "attention": {"variant": "mha", "num_heads": 4, "bias": True, "qk_norm": "whole",
                      "logit_softcap": 4.0, "mask_type": "sliding_window", "window_size": 4},
        "positional": {"encoding": "alibi"}, "norm": {"type": "layernorm"},
        "embedding_scale": 0.5, "tie_embeddings": False,
    },
    # mixtures of experts: a dense first layer, a shared expert behind its sigmoid gate,
    # biases (onnxruntime's fused MoE node for SwiGLU); top-k then softmax over GELU MLPs
    "gqa-rope-moe-swiglu-bias-shared-gated-first-dense": {
        "attention": {"variant": "gqa", "num_heads": 4, "num_kv_heads": 1},
        "ffn": {"variant": "swiglu", "bias": True,
                "moe": {"experts": 4, "experts_per_token": 2, "shared_experts": 1, "shared_expert_gate": True,
                        "first_dense_layers": 1}},
    },
    "mha-alibi-moe-mlp-gelu-topk-softmax-router-bias": {
        "attention": {"variant": "mha", "num_heads": 4}, "positional": {"encoding": "alibi"},
        "ffn": {"variant": "mlp", "activation": "gelu",
                "moe": {"experts": 5, "experts_per_token": 3, "router": "topk_softmax", "router_bias": True}},
    },
}


def merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overrides.items():
        out[key] = merged(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def model_folder(root: Path, model: dict[str, Any], seed: int = 0) -> ModelFolder:
    """A model folder (resolved spec + seeded weights) for TINY with `model` merged in."""
    spec = resolve_spec(Spec.model_validate({"spec_version": 1, "model": merged(TINY, model)}))
    module = build(lower_spec(spec), seed=seed)
    if module.lm_head.bias is not None:  # initialised to zero: random, so a dropped bias shows
        with torch.no_grad():
            module.lm_head.bias.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(seed))
    save_model_folder(root, spec, module)
    return load_model_folder(root)
