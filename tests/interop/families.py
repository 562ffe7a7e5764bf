"""The Hugging Face families that `lightllm import-hf` reads, one row each: the
transformers config class and the config of a tiny model of an unusual size (odd head
counts, one KV head, tied and untied heads where the family allows).

Adding a family is adding a row here (and its mapping object in interop/hf/); every test
of test_families.py then runs on it. Rows stay tiny: the whole file runs in CI on 2 cores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

VOCAB = 258  # the byte-level tokenizer saved beside every model (light_llm.tokenizer.byte_tokenizer)


@dataclass(frozen=True)
class Family:
    name: str  # the row's test id
    config_class: str  # the transformers *Config class
    config: dict[str, Any]  # its arguments (vocab_size and the init range are added)
    sharded: bool = False  # saved in several safetensors shards with an index
    dtype: torch.dtype = torch.float32  # saved in this dtype (compared in fp32 after both load it)
    cli: bool = False  # imported by a real `lightllm import-hf` subprocess (else the library call)
    random_biases: bool = False  # biases drawn at random before saving (transformers starts them at zero)

    def __str__(self) -> str:
        return self.name


LLAMA = dict(hidden_size=48, intermediate_size=136, num_hidden_layers=2, num_attention_heads=3,
             num_key_value_heads=1, max_position_embeddings=64, rope_theta=500.0)

FAMILIES = [
    Family("llama-untied", "LlamaConfig", dict(LLAMA, tie_word_embeddings=False)),
    Family("llama-tied-sharded-bf16", "LlamaConfig",
           dict(LLAMA, num_attention_heads=5, hidden_size=40, intermediate_size=104, tie_word_embeddings=True),
           sharded=True, dtype=torch.bfloat16, cli=True),
    Family("mistral-window", "MistralConfig",
           dict(LLAMA, sliding_window=5, num_attention_heads=3, num_key_value_heads=3, tie_word_embeddings=False)),
    Family("gpt2-gelu-tied", "GPT2Config",
           dict(n_embd=36, n_layer=2, n_head=3, n_positions=64, activation_function="gelu")),
    Family("gpt2-gelu-new", "GPT2Config", dict(n_embd=36, n_layer=1, n_head=3, n_positions=64)),  # GPT-2's default
    Family("gpt2-relu-untied", "GPT2Config",
           dict(n_embd=40, n_layer=1, n_head=5, n_inner=72, n_positions=64, activation_function="relu",
                tie_word_embeddings=False)),
    Family("phi3-untied", "Phi3Config", dict(LLAMA, tie_word_embeddings=False)),
    Family("phi3-tied-window", "Phi3Config",
           dict(LLAMA, num_attention_heads=5, hidden_size=40, intermediate_size=104, sliding_window=6,
                tie_word_embeddings=True)),
    Family("qwen2-untied", "Qwen2Config",
           dict(LLAMA, hidden_size=60, intermediate_size=152, num_attention_heads=5, tie_word_embeddings=False)),
    Family("qwen3-tied", "Qwen3Config", dict(LLAMA, intermediate_size=96, head_dim=16, tie_word_embeddings=True)),
    Family("gemma-tied-one-kv-head", "GemmaConfig",
           dict(LLAMA, hidden_size=60, intermediate_size=152, num_attention_heads=5, head_dim=16)),
    Family("gemma2-untied-alternating-window", "Gemma2Config",
           dict(LLAMA, hidden_size=60, intermediate_size=152, num_hidden_layers=3, num_attention_heads=5,
                head_dim=16, sliding_window=4, query_pre_attn_scalar=24, attn_logit_softcapping=3.0,
                final_logit_softcapping=5.0, tie_word_embeddings=False)),
    # Gemma 3: five sliding layers to one global (7 layers: the pattern repeats), QK norm
    Family("gemma3-tied-one-kv-head-5to1", "Gemma3TextConfig",
           dict(LLAMA, hidden_size=60, intermediate_size=152, num_hidden_layers=7, num_attention_heads=5,
                head_dim=16, sliding_window=4, query_pre_attn_scalar=24, rope_local_base_freq=100.0,
                rope_scaling={"rope_type": "linear", "factor": 4.0})),
    Family("qwen2-windowed-from-layer-1", "Qwen2Config",
           dict(LLAMA, num_hidden_layers=3, use_sliding_window=True, sliding_window=4, max_window_layers=1)),
    Family("ministral-layer-types", "MinistralConfig",
           dict(LLAMA, num_hidden_layers=3, head_dim=16, sliding_window=4,
                layer_types=["full_attention", "sliding_attention", "full_attention"])),
    # Pythia's layout (parallel residual, two input norms, a quarter of each head rotated;
    # save_pretrained writes its head as embed_out), and the sequential, tied, bias-free one
    Family("gpt_neox-parallel-untied", "GPTNeoXConfig",
           dict(hidden_size=40, intermediate_size=96, num_hidden_layers=2, num_attention_heads=5,
                max_position_embeddings=64, rotary_pct=0.25, rotary_emb_base=500.0, tie_word_embeddings=False)),
    Family("gpt_neox-sequential-tied-gelu-new", "GPTNeoXConfig",
           dict(hidden_size=36, intermediate_size=72, num_hidden_layers=1, num_attention_heads=3,
                max_position_embeddings=64, rotary_pct=0.5, hidden_act="gelu_new", use_parallel_residual=False,
                attention_bias=False, tie_word_embeddings=True)),
    Family("phi-untied", "PhiConfig",
           dict(hidden_size=40, intermediate_size=104, num_hidden_layers=2, num_attention_heads=5,
                max_position_embeddings=64, partial_rotary_factor=0.5, rope_theta=500.0, tie_word_embeddings=False)),
    Family("phi-tied-one-kv-head-qk-layernorm", "PhiConfig",
           dict(hidden_size=36, intermediate_size=72, num_hidden_layers=1, num_attention_heads=3,
                num_key_value_heads=1, max_position_embeddings=64, qk_layernorm=True, tie_word_embeddings=True)),
    Family("olmo2-untied", "Olmo2Config", dict(LLAMA, tie_word_embeddings=False)),
    Family("olmo2-tied-bias", "Olmo2Config",
           dict(LLAMA, num_attention_heads=5, num_key_value_heads=5, hidden_size=40, intermediate_size=104,
                attention_bias=True, tie_word_embeddings=True)),
    # Granite's four factors, each away from 1 (the attention factor replaces 1/√head_dim)
    Family("granite-untied-factors", "GraniteConfig",
           dict(LLAMA, num_hidden_layers=3, embedding_multiplier=3.0, residual_multiplier=0.4,
                attention_multiplier=0.09, logits_scaling=2.5, tie_word_embeddings=False)),
    Family("granite-tied-one-kv-head", "GraniteConfig",
           dict(LLAMA, num_attention_heads=5, hidden_size=40, intermediate_size=104, embedding_multiplier=6.0,
                residual_multiplier=0.22, attention_multiplier=0.125, logits_scaling=4.0, tie_word_embeddings=True)),
    # SmolLM3: every 2nd layer NoPE (from the interval), and an irregular list of NoPE layers
    Family("smollm3-tied-nope-interval", "SmolLM3Config",
           dict(LLAMA, num_hidden_layers=4, no_rope_layer_interval=2, tie_word_embeddings=True)),
    Family("smollm3-untied-nope-list", "SmolLM3Config",
           dict(LLAMA, num_attention_heads=5, num_key_value_heads=5, hidden_size=40, intermediate_size=104,
                num_hidden_layers=3, no_rope_layers=[0, 1, 1], tie_word_embeddings=False)),
    # mixtures of experts: top-k > 1, one KV head, a dense first layer (Qwen3-MoE), a window
    # (Mixtral), a shared expert behind its sigmoid gate (Qwen2-MoE)
    Family("qwen3_moe-untied-dense-first-layer", "Qwen3MoeConfig",
           dict(LLAMA, num_hidden_layers=3, intermediate_size=104, head_dim=16, num_experts=5, num_experts_per_tok=2,
                moe_intermediate_size=24, norm_topk_prob=True, mlp_only_layers=[0], tie_word_embeddings=False)),
    Family("olmoe-tied-top3", "OlmoeConfig",
           dict(LLAMA, num_attention_heads=5, hidden_size=40, intermediate_size=24, num_experts=4,
                num_experts_per_tok=3, tie_word_embeddings=True)),
    Family("mixtral-untied-window", "MixtralConfig",
           dict(LLAMA, intermediate_size=32, num_local_experts=5, num_experts_per_tok=2, sliding_window=5,
                tie_word_embeddings=False)),
    Family("qwen2_moe-tied-shared-expert", "Qwen2MoeConfig",
           dict(LLAMA, num_attention_heads=5, hidden_size=40, intermediate_size=64, num_experts=4,
                num_experts_per_tok=2, moe_intermediate_size=16, shared_expert_intermediate_size=32,
                tie_word_embeddings=True)),
    # gpt-oss: sinks, biases everywhere, alternating windows, clamped-SwiGLU experts with
    # biases behind a biased top-k-then-softmax router, its own untruncated YaRN (by default)
    Family("gpt_oss-untied-sinks-alternating-window", "GptOssConfig",
           dict(hidden_size=36, intermediate_size=24, num_hidden_layers=3, num_attention_heads=5,
                num_key_value_heads=1, head_dim=16, num_local_experts=4, num_experts_per_tok=2, sliding_window=4,
                swiglu_limit=0.5, max_position_embeddings=64, tie_word_embeddings=False),
           random_biases=True),
]
