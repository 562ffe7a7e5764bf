"""The intermediate representation: frozen dataclasses with every "auto" resolved.

Blocks of the model are built from their own IR node only. Nothing here imports torch or
pydantic, so costs (parameters, FLOPs, KV bytes) can be derived from the IR alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal

# Option names (encoding, variant, activation, norm type, kernel) are keys of the tables
# in options.py; the IR stores the name, the modules and costs read the entry.
Target = Literal["eager", "export"]


@dataclass(frozen=True)
class RopeScalingIR:
    """A per-frequency RoPE scaling rule (rope_scaling.py computes it); linear scaling is
    PositionalIR.rope_scaling instead."""

    type: Literal["llama3", "yarn"]
    factor: float
    original_max_position_embeddings: int
    low_freq_factor: float | None = None  # llama3
    high_freq_factor: float | None = None  # llama3
    beta_fast: float = 32.0  # yarn
    beta_slow: float = 1.0  # yarn
    attention_factor: float = 1.0  # yarn: cos and sin are multiplied by it
    truncate: bool = True  # yarn: the ramp's ends rounded to whole dims


@dataclass(frozen=True)
class PositionalIR:
    encoding: str
    uses_position_ids: bool  # from the table: the graph reads position_ids
    max_seq_len: int
    rope_base: float
    rope_scaling: float  # linear factor: 1.0 when no linear scaling
    rope_fraction: float = 1.0  # of each head rotated: the first int(head_dim·fraction) dims
    rope_pairing: Literal["half", "interleaved"] = "half"
    rope_scaling_rule: RopeScalingIR | None = None  # llama3 / yarn frequencies

    def rotary_dim(self, head_dim: int) -> int:
        return int(head_dim * self.rope_fraction)


@dataclass(frozen=True)
class NormIR:
    type: str
    dim: int
    eps: float


@dataclass(frozen=True)
class AttentionIR:
    variant: Literal["mha", "gqa", "mqa", "complex"]
    d_model: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    dropout: float
    bias: bool
    mask_type: Literal["causal", "bidirectional", "sliding_window"]
    window_size: int | None
    use_flash_attn: bool
    kernel: str
    kernel_reason: str
    positional: PositionalIR
    # bias: Q, K and V carry a bias; output_bias: o_proj too (spec `bias: true`).
    output_bias: bool = False
    qk_norm: Literal["none", "per_head", "whole"] = "none"
    qk_norm_type: str = "rmsnorm"
    qk_norm_eps: float = 1e-5
    scale: float | None = None  # factor on Q·Kᵀ; None: 1/√head_dim
    logit_softcap: float | None = None  # scores = cap·tanh(scores/cap) before the mask
    sinks: bool = False  # a learned logit per query head in each softmax's denominator

    @property
    def score_scale(self) -> float:
        return self.scale if self.scale is not None else self.head_dim ** -0.5

    def qk_norms(self) -> tuple[NormIR, NormIR] | None:
        """The query and key norms (None without qk_norm): over head_dim per head, or over
        the whole projection."""
        if self.qk_norm == "none":
            return None
        q_dim, k_dim = (self.head_dim, self.head_dim) if self.qk_norm == "per_head" else (
            self.q_size, self.kv_size)
        return (NormIR(self.qk_norm_type, q_dim, self.qk_norm_eps),
                NormIR(self.qk_norm_type, k_dim, self.qk_norm_eps))

    @property
    def q_size(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_size(self) -> int:
        return self.num_kv_heads * self.head_dim

    @property
    def mask_kind(self) -> tuple[str, int | None]:
        """What makes two layers' masks the same (a layer pattern mixes two kinds)."""
        return self.mask_type, self.window_size


@dataclass(frozen=True)
class MoEIR:
    """A mixture of experts (model.ffn.moe): its FFNIR describes one expert."""

    experts: int
    experts_per_token: int
    router: Literal["softmax_topk", "topk_softmax"]
    normalize_topk: bool  # softmax_topk: the chosen probabilities rescaled to sum to 1
    router_bias: bool
    shared_experts: int  # always-on experts, one FFN of shared_experts·hidden_dim
    shared_expert_gate: bool  # the shared output × sigmoid(x·w) (Qwen2-MoE)
    aux_loss_coef: float
    z_loss_coef: float

    @property
    def normalized(self) -> bool:
        """Whether the chosen experts' weights sum to 1."""
        return self.normalize_topk or self.router == "topk_softmax"


@dataclass(frozen=True)
class FFNIR:
    variant: str
    d_model: int
    hidden_dim: int  # of each expert, in a mixture of experts
    activation: str
    dropout: float
    bias: bool
    swiglu_alpha: float = 1.702  # clamped_swiglu: gate·σ(alpha·gate)
    swiglu_limit: float = 7.0  # clamped_swiglu: gate ≤ limit, |up| ≤ limit
    moe: MoEIR | None = None  # None: a dense FFN

    @property
    def expert(self) -> "FFNIR":
        """One expert (the dense FFN itself where there are none)."""
        return replace(self, moe=None)

    @property
    def shared(self) -> "FFNIR | None":
        """The shared experts as one dense FFN, None where there are none."""
        if self.moe is None or not self.moe.shared_experts:
            return None
        return replace(self, moe=None, hidden_dim=self.moe.shared_experts * self.hidden_dim)


@dataclass(frozen=True)
class BlockIR:
    index: int
    attention: AttentionIR
    ffn: FFNIR
    norm: NormIR
    placement: Literal["pre", "post", "sandwich", "output"]
    parallel: bool
    residual_dropout: float
    parallel_norms: Literal["shared", "separate"] = "shared"  # parallel blocks' input norms
    residual_scale: float = 1.0  # each sub-layer's output × this before the residual add


@dataclass(frozen=True)
class TransformerIR:
    vocab_size: int
    d_model: int
    num_layers: int
    max_seq_len: int
    positional: PositionalIR
    blocks: tuple[BlockIR, ...]
    final_norm: NormIR | None  # None for post-norm: every block already ends in a norm
    tie_embeddings: bool
    embedding_dropout: float
    init_std: float
    residual_scaled_init: bool
    target: Target

    family: str = "transformer"
    lm_head_bias: bool = False
    final_logit_softcap: float | None = None  # logits = cap·tanh(logits/cap)
    embedding_scale: float = 1.0  # token embeddings × this, in the model dtype
    logit_divisor: float = 1.0  # logits / this, before final_logit_softcap

    @property
    def causal(self) -> bool:
        return self.blocks[0].attention.mask_type != "bidirectional"

    @property
    def cached(self) -> bool:
        """Whether exports take and return a KV cache (causal models only)."""
        return self.causal

    @property
    def uses_position_ids(self) -> bool:
        return self.positional.uses_position_ids

    @property
    def num_kv_heads(self) -> int:
        return self.blocks[0].attention.num_kv_heads

    @property
    def head_dim(self) -> int:
        return self.blocks[0].attention.head_dim

    def to_dict(self) -> dict:
        return asdict(self)
