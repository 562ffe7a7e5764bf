"""The `model` section of a spec for `name: transformer`: every option of docs/models.md.

Each section checks its own cross-field rules and reports them as `(path, message)`
pairs relative to itself, so the loader can name the exact JSON path of every mistake.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from light_llm.models.transformer.options import (
    ACTIVATIONS,
    FFN_VARIANTS,
    NORMS,
    POSITIONAL_ENCODINGS,
    activation_choices,
    ffn_option_readers,
    free_activation_variants,
    owned_ffn_options,
    readers,
)
from light_llm.spec_base import LIMIT, Auto, CheckedSection, Integer, Number, OneOf, Problem

MAX_WIDTH = 65_536
"""d_model, head_dim: four times the widest released model (16,384)."""
MAX_HEADS = 4_096
MAX_LAYERS = 1_024
"""Layers: eight times the deepest released decoder; lowering is linear in this."""
MAX_VOCAB = 1_048_576
"""Four times the largest released vocabulary (256,000)."""
MAX_SEQ_LEN = 1_048_576
MAX_EXPANSION = 64.0
MAX_EXPERTS = 1_024
"""Four times the most experts in a released model (DeepSeek-V3, Kimi K2: 256, 384)."""
MAX_ATTENTION_SCALE = 64.0
"""A score factor above 64 saturates softmax in fp32 for any head_dim ≥ 1."""
MAX_SOFTCAP = 1e6
MAX_MULTIPLIER = 65_536.0
"""Residual scale and logit divisor: far above any released model's (Granite: 0.22, 16)."""
MAX_INIT_STD = 1.0
"""Above this, fp32 activations of a deep model overflow (init_std 1e30 gives inf)."""
ROPE_BASE_RANGE = (1.0, 1e12)
"""Below 1 the RoPE frequencies grow instead of decay (1e-300 gives inf in fp32)."""
MAX_ROPE_SCALING = 1_024.0
EPS_RANGE = (1e-12, 1.0)
"""Below 1e-12 the epsilon is lost in fp32 rounding of the variance; above 1 it swamps it."""
FP32_TINY = 2.0**-126
"""float32's smallest normal number, the least value of every positive factor of the model
(scales, caps, init std, expansion): below it fp32 keeps few digits or none (an attention
scale of 2.2e-308 becomes 0 and the logits NaN)."""

_SIZE_LIMIT = (
    f"{LIMIT}sizes are bounded so that every accepted spec builds; whether it fits in "
    "memory is checked by `lightllm compile`."
)


PositionalEncodingName = Annotated[str, OneOf(POSITIONAL_ENCODINGS)]
FFNVariantName = Annotated[str, OneOf(FFN_VARIANTS)]
ActivationName = Annotated[str, OneOf(ACTIVATIONS, "Activation of the FFN variants that take one:")]
NormName = Annotated[str, OneOf(NORMS, "Normalisation layer.")]


def _one_of(names: list[str]) -> str:
    return " or ".join(repr(name) for name in names)


class AttentionConfig(CheckedSection):
    """Self-attention. `complex` combines with every positional encoding (rope becomes a
    complex phase rotation), every mask type and any KV-head count that divides num_heads;
    it needs an even head_dim and has no flash-attn kernel."""

    variant: Literal["mha", "gqa", "mqa", "complex"] = Field(
        "gqa",
        description="mha: one KV head per query head; gqa: query heads share KV heads; "
        "mqa: one KV head; complex: Q and K are complex, scores are Re(Q·K̄) (with any "
        "positional encoding and mask; needs an even head_dim; not with use_flash_attn).",
    )
    num_heads: Integer(1, MAX_HEADS) = Field(8, description=f"Number of query heads. {_SIZE_LIMIT}")
    num_kv_heads: Integer(1, MAX_HEADS) | Auto = Field(
        "auto",
        description="Number of key/value heads. auto: num_heads // 4 for gqa (at least 1), "
        f"num_heads for mha and complex, 1 for mqa. {_SIZE_LIMIT}",
    )
    head_dim: Integer(1, MAX_WIDTH) | Auto = Field(
        "auto",
        description="Real numbers per head (a complex head holds head_dim/2 complex numbers). "
        f"auto: d_model // num_heads. {_SIZE_LIMIT}",
    )
    dropout: Number(ge=0.0, lt=1.0) = Field(0.0, description="Dropout on attention weights.")
    bias: bool | Literal["qkv"] = Field(
        False,
        description="true: a bias on the Q, K, V and output projections; 'qkv': on Q, K and V "
        "only (Qwen2); false: none.",
    )
    mask_type: Literal["causal", "bidirectional", "sliding_window"] = Field(
        "causal",
        description="causal: attend to earlier tokens; bidirectional: attend to all tokens "
        "(no KV-cache decoding); sliding_window: causal, limited to the last window_size tokens.",
    )
    window_size: Integer(1, MAX_SEQ_LEN) | None = Field(
        None, description="Tokens in the sliding window, the current one included. Required "
        "exactly when mask_type is sliding_window."
    )
    use_flash_attn: bool = Field(
        False,
        description="Use flash-attn kernels on CUDA (needs `pip install flash-attn`); "
        "elsewhere PyTorch SDPA is used and the compile report says so. Not with variant "
        "'complex'.",
    )
    layer_pattern: list[Literal["sliding_window", "causal"]] | None = Field(
        None,
        min_length=1,
        max_length=MAX_LAYERS,
        description="Per-layer masks (only with mask_type 'sliding_window'): layer i takes "
        "entry i mod len — sliding_window (the window_size window) or causal (global); e.g. "
        "[sliding_window, causal] (Gemma 2). At most num_layers entries. null: every layer "
        "uses mask_type.",
    )

    qk_norm: Literal["none", "per_head", "whole"] = Field(
        "none",
        description="A norm (model.norm's type and eps) on queries and keys before RoPE. "
        "per_head: over each head's head_dim (Qwen3, Gemma 3); whole: over the whole Q and "
        "K projections (OLMo 2).",
    )
    scale: Number(ge=FP32_TINY, le=MAX_ATTENTION_SCALE) | Auto = Field(
        "auto",
        description="Factor on the scores Q·Kᵀ. auto: 1/√head_dim; Gemma 2's "
        "query_pre_attn_scalar s is scale s^-0.5.",
    )
    logit_softcap: Number(ge=FP32_TINY, le=MAX_SOFTCAP) | None = Field(
        None,
        description="Soft-cap the scores before the mask: cap·tanh(scores/cap) (Gemma 2). "
        "Not with variant 'complex' nor use_flash_attn.",
    )
    sinks: bool = Field(
        False,
        description="Attention sinks (gpt-oss): a learned logit per query head joins each "
        "softmax's denominator, so a query may attend to nothing. Not with variant 'complex' "
        "nor use_flash_attn.",
    )

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        found += self._attention_extras_problems()
        if self.mask_type == "sliding_window" and self.window_size is None:
            found.append(("window_size", "required when mask_type is 'sliding_window'"))
        if self.mask_type != "sliding_window" and self.window_size is not None:
            found.append(
                (
                    "window_size",
                    f"window_size={self.window_size} is only allowed with mask_type "
                    f"'sliding_window', not {self.mask_type!r}",
                )
            )
        if self.layer_pattern is not None and self.mask_type != "sliding_window":
            found.append(("layer_pattern", f"only allowed with mask_type 'sliding_window', not "
                                           f"{self.mask_type!r}"))
        if self.variant == "complex" and self.use_flash_attn:
            found.append(
                ("use_flash_attn", "flash-attn has no kernel for variant 'complex'; set it to false")
            )
        kv = self.num_kv_heads
        if kv != "auto":
            if self.variant == "mqa" and kv != 1:
                found.append(("num_kv_heads", f"variant 'mqa' uses exactly 1 KV head, got {kv}"))
            elif self.variant == "mha" and kv != self.num_heads:
                found.append(
                    (
                        "num_kv_heads",
                        f"variant 'mha' uses as many KV heads as query heads "
                        f"({self.num_heads}), got {kv}",
                    )
                )
            elif self.num_heads % kv != 0:
                found.append(
                    (
                        "num_kv_heads",
                        f"num_heads={self.num_heads} is not divisible by num_kv_heads={kv}; "
                        f"allowed: a divisor of {self.num_heads}",
                    )
                )
        return found

    def _attention_extras_problems(self) -> list[Problem]:
        found: list[Problem] = []
        if self.variant == "complex" and self.logit_softcap is not None:
            found.append(("logit_softcap", f"logit_softcap={self.logit_softcap} is not allowed "
                                           "with variant 'complex'; allowed: null"))
        if self.logit_softcap is not None and self.use_flash_attn:
            found.append(("logit_softcap", f"logit_softcap={self.logit_softcap} has no flash-attn "
                                           "kernel here; set use_flash_attn to false"))
        if self.sinks and self.variant == "complex":
            found.append(("sinks", "no sinks kernel with variant 'complex'; allowed: false"))
        elif self.sinks and self.use_flash_attn:
            found.append(("sinks", "no sinks kernel with use_flash_attn; allowed: false"))
        return found

    def resolved_num_kv_heads(self) -> int:
        if self.num_kv_heads != "auto":
            return self.num_kv_heads
        if self.variant == "mqa":
            return 1
        if self.variant == "gqa":
            candidate = max(1, self.num_heads // 4)
            while self.num_heads % candidate:
                candidate -= 1
            return candidate
        return self.num_heads


class RopeScalingConfig(CheckedSection):
    """How RoPE frequencies are scaled to extend the context (docs/models.md, RoPE scaling):
    linear divides positions by factor; llama3 (Llama 3.1+) divides the low frequencies by
    factor and blends the middle band; yarn (YaRN, Qwen 2.5) ramps between interpolated and
    original frequencies and scales cos/sin by an attention factor."""

    type: Literal["linear", "llama3", "yarn"] = Field(
        description="linear: positions / factor; llama3: per-frequency, by wavelength; "
        "yarn: ramped interpolation plus an attention factor."
    )
    factor: Number(gt=1.0, le=MAX_ROPE_SCALING) = Field(
        description="Context extension factor > 1."
    )
    original_max_position_embeddings: Integer(1, MAX_SEQ_LEN) | None = Field(
        None, description="Context length the model was pre-trained with (llama3, yarn: required)."
    )
    low_freq_factor: Number(ge=FP32_TINY, le=MAX_ROPE_SCALING) | None = Field(
        None, description="llama3: wavelengths above original/low_freq_factor are divided by factor (required)."
    )
    high_freq_factor: Number(ge=FP32_TINY, le=MAX_ROPE_SCALING) | None = Field(
        None, description="llama3: wavelengths below original/high_freq_factor are kept (required)."
    )
    beta_fast: Number(ge=FP32_TINY, le=MAX_ROPE_SCALING) | None = Field(
        None, description="yarn: rotations where the ramp starts keeping frequencies (default 32)."
    )
    beta_slow: Number(ge=FP32_TINY, le=MAX_ROPE_SCALING) | None = Field(
        None, description="yarn: rotations where the ramp ends interpolating them (default 1)."
    )
    attention_factor: Number(ge=FP32_TINY, le=MAX_ROPE_SCALING) | None = Field(
        None, description="yarn: cos and sin are multiplied by it (default 0.1·ln(factor) + 1)."
    )
    truncate: bool | None = Field(
        None, description="yarn: round the ramp's ends to whole dims (floor, ceil) as transformers does "
        "by default (null: true); false keeps them fractional (gpt-oss)."
    )

    @staticmethod
    def owners() -> dict[str, tuple[str, ...]]:
        """Each optional key and the types that read it."""
        return {"original_max_position_embeddings": ("llama3", "yarn"),
                "low_freq_factor": ("llama3",), "high_freq_factor": ("llama3",),
                "beta_fast": ("yarn",), "beta_slow": ("yarn",), "attention_factor": ("yarn",),
                "truncate": ("yarn",)}

    @staticmethod
    def required_keys() -> dict[str, tuple[str, ...]]:
        return {"llama3": ("original_max_position_embeddings", "low_freq_factor", "high_freq_factor"),
                "yarn": ("original_max_position_embeddings",)}

    def problems(self) -> list[Problem]:
        required = self.required_keys()
        found: list[Problem] = []
        for key, types in self.owners().items():
            value = getattr(self, key)
            if value is not None and self.type not in types:
                found.append((key, f"{key}={value} is only allowed with type "
                                   f"{_one_of(list(types))}, not {self.type!r}"))
            if value is None and key in required.get(self.type, ()):
                found.append((key, f"required with type {self.type!r}"))
        low, high = self.low_freq_factor, self.high_freq_factor
        if low is not None and high is not None and high <= low:
            found.append(("high_freq_factor", f"high_freq_factor={high} must be greater than "
                                              f"low_freq_factor={low}"))
        if (self.beta_fast or 32.0) <= (self.beta_slow or 1.0):
            found.append(("beta_fast", f"beta_fast={self.beta_fast or 32.0} must be greater than "
                                       f"beta_slow={self.beta_slow or 1.0}"))
        return found


class PositionalConfig(CheckedSection):
    """How token positions reach the model."""

    encoding: PositionalEncodingName = Field("rope")
    rope_base: Number(ge=ROPE_BASE_RANGE[0], le=ROPE_BASE_RANGE[1]) = Field(
        10000.0,
        description=f"RoPE θ base (rope only). {LIMIT}below 1 the rotation frequencies "
        "grow instead of decaying and overflow fp32.",
    )
    rope_scaling: Number(gt=1.0, le=MAX_ROPE_SCALING) | RopeScalingConfig | None = Field(
        None,
        description="RoPE scaling (rope only): a number > 1 is linear scaling (positions are "
        "divided by it to extend the context); an object {type: linear | llama3 | yarn, "
        "factor, ...} chooses the rule.",
    )
    rope_fraction: Number(gt=0.0, le=1.0) = Field(
        1.0,
        description="Fraction of each head that RoPE rotates (rope only; Phi, GPT-NeoX): the "
        "first int(head_dim·rope_fraction) dims, which must be even; the rest pass unrotated.",
    )
    sliding_rope_base: Number(ge=ROPE_BASE_RANGE[0], le=ROPE_BASE_RANGE[1]) | None = Field(
        None,
        description="RoPE θ base of the sliding-window layers, which rotate unscaled: "
        "rope_scaling is the global layers' (rope only; needs attention.mask_type "
        "'sliding_window'); null: rope_base and rope_scaling. Gemma 3: 10000 with rope_base "
        "1e6 for the global layers.",
    )
    layer_pattern: list[PositionalEncodingName] | None = Field(
        None,
        min_length=1,
        max_length=MAX_LAYERS,
        description="Per-layer encodings (rope only): layer i takes entry i mod len — rope "
        "(rotated) or none (no positional encoding, NoPE); e.g. [rope, rope, rope, none] "
        "(SmolLM3: every fourth layer NoPE). At most num_layers entries. null: every layer "
        "uses encoding.",
    )
    rope_pairing: Literal["half", "interleaved"] = Field(
        "half",
        description="Which dims RoPE rotates together (rope only): half: (x_j, x_{j+r/2}) as "
        "Llama/NeoX/Phi (rotate_half); interleaved: (x_2j, x_2j+1) as GPT-J.",
    )

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        for key in POSITIONAL_ENCODINGS[self.encoding].options_not_read(type(self).model_fields):
            if self.explicitly_set(key) and getattr(self, key) is not None:
                found.append(
                    (key, f"only allowed with encoding {_one_of(readers(key))}, not {self.encoding!r}")
                )
        others = sorted(set(self.layer_pattern or ()) - {self.encoding, "none"})
        if others:
            found.append(("layer_pattern", f"{others[0]!r}: each layer takes the model's "
                                           f"encoding or none: {self.encoding!r} or 'none'"))
        return found


def _hidden_size_problems(path: str, factor: float, d_model: int) -> list[Problem]:
    product = factor * d_model
    if product >= 1:
        return []
    return [(path, f"expansion_factor·d_model = {factor:g}·{d_model} = {product:.3g}, a hidden size below 1; "
             f"allowed: a factor ≥ 1/d_model = {1 / d_model:.3g}")]


class MoEConfig(CheckedSection):
    """A mixture of experts: each token's FFN output is the weighted sum of the
    experts_per_token experts its router scores highest (each expert an FFN of ffn.variant),
    plus the shared experts every token passes through."""

    experts: Integer(2, MAX_EXPERTS) = Field(description=f"Routed experts per sparse layer. {_SIZE_LIMIT}")
    experts_per_token: Integer(1, MAX_EXPERTS) = Field(
        2, description="Experts each token is routed to (top-k); at most `experts`.")
    expansion_factor: Number(ge=FP32_TINY, le=MAX_EXPANSION) | Auto = Field(
        "auto", description="Hidden size of each expert = expansion_factor · d_model, rounded up to a "
        "multiple of 8. auto: ffn.expansion_factor.")
    shared_experts: Integer(0, MAX_EXPERTS) = Field(
        0, description="Experts every token passes through, unweighted (one FFN of shared_experts "
        "times an expert's hidden size).")
    shared_expert_gate: bool = Field(
        False, description="Scale the shared experts' output by sigmoid(x·w), w a learned vector "
        "(Qwen2-MoE). Needs shared_experts ≥ 1.")
    router: Literal["softmax_topk", "topk_softmax"] = Field(
        "softmax_topk", description="softmax_topk: softmax over every expert's logit, then the top k "
        "probabilities (Mixtral, Qwen-MoE, OLMoE); topk_softmax: the top k logits, then a softmax over "
        "those k.")
    normalize_topk: bool = Field(
        True, description="With softmax_topk: rescale the k chosen probabilities to sum to 1. topk_softmax's "
        "always do (false is refused with it).")
    router_bias: bool = Field(False, description="A bias on the router's logits.")
    sparse_every: Integer(1, MAX_LAYERS) = Field(
        1, description="Layer i (from 0) is sparse when (i + 1) is a multiple of sparse_every, "
        "and i ≥ first_dense_layers; other layers have a dense FFN of ffn.expansion_factor.")
    first_dense_layers: Integer(0, MAX_LAYERS) = Field(
        0, description="The first layers keep a dense FFN (DeepSeek-style).")
    aux_loss_coef: Number(ge=0.0, le=MAX_MULTIPLIER) = Field(
        0.01, description="Training: weight of the load-balancing loss E·Σₑ fₑ·Pₑ (fₑ the share of "
        "routed tokens expert e takes, Pₑ its mean router probability).")
    z_loss_coef: Number(ge=0.0, le=MAX_MULTIPLIER) = Field(
        0.0, description="Training: weight of the router z-loss, the mean of logsumexp(router logits)².")

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        if self.experts_per_token > self.experts:
            found.append(("experts_per_token", f"{self.experts_per_token} exceeds experts={self.experts}"))
        if self.shared_expert_gate and not self.shared_experts:
            found.append(("shared_expert_gate", "needs shared_experts ≥ 1"))
        if self.router == "topk_softmax" and not self.normalize_topk:
            found.append(("normalize_topk", "false only with router 'softmax_topk' (topk_softmax's weights "
                          "always sum to 1)"))
        return found

    def is_sparse(self, layer: int) -> bool:
        return layer >= self.first_dense_layers and (layer + 1) % self.sparse_every == 0


class FFNConfig(CheckedSection):
    """The feed-forward sub-layer of each block."""

    variant: FFNVariantName = Field("swiglu")
    expansion_factor: Number(ge=FP32_TINY, le=MAX_EXPANSION) = Field(
        2.6667,
        description="Hidden size = expansion_factor · d_model (at least 1), rounded up to a multiple of 8. "
        f"{LIMIT}sixteen times the largest in use; memory is checked by `lightllm compile`.",
    )
    dropout: Number(ge=0.0, lt=1.0) = Field(0.0, description="Dropout on the hidden activations.")
    activation: ActivationName = Field("silu")
    bias: bool = Field(False, description="Add biases to the FFN projections.")
    swiglu_alpha: Number(ge=FP32_TINY, le=MAX_MULTIPLIER) = Field(
        1.702, description="variant clamped_swiglu only: the gate's activation is gate·σ(alpha·gate) "
        "(gpt-oss: 1.702).")
    swiglu_limit: Number(ge=FP32_TINY, le=MAX_MULTIPLIER) = Field(
        7.0, description="variant clamped_swiglu only: the gate is clamped to ≤ limit and up to "
        "[−limit, limit] (gpt-oss: 7).")
    moe: MoEConfig | None = Field(
        None, description="A mixture of experts of this FFN (null: dense). Each expert is an FFN of "
        "this variant, activation and bias.")

    def problems(self) -> list[Problem]:
        return self._owned_option_problems() + self._activation_problems()

    def _owned_option_problems(self) -> list[Problem]:
        return [(key, f"only allowed with variant {_one_of(ffn_option_readers(key))}, not {self.variant!r}")
                for key in owned_ffn_options()
                if self.explicitly_set(key) and self.variant not in ffn_option_readers(key)]

    def _activation_problems(self) -> list[Problem]:
        if not FFN_VARIANTS[self.variant].activation or not self.explicitly_set("activation"):
            return []
        choices = activation_choices(self.variant)
        if choices and self.activation in choices:
            return []
        if choices:
            return [("activation", f"variant {self.variant!r} takes activation {_one_of(list(choices))}, "
                     f"got {self.activation!r}")]
        return [
            (
                "activation",
                f"only allowed with variant {_one_of(free_activation_variants())}; "
                f"{self.variant!r} fixes its own gate activation",
            )
        ]

    def resolved_activation(self) -> str:
        """The activation used: the variant's own unless ffn.activation picks an allowed one."""
        fixed = FFN_VARIANTS[self.variant].activation
        if fixed is None or (self.explicitly_set("activation") and self.activation in activation_choices(self.variant)):
            return self.activation
        return fixed


class NormConfig(CheckedSection):
    """Normalisation layers and where they sit in each block."""

    type: NormName = Field("rmsnorm")
    eps: Number(ge=EPS_RANGE[0], le=EPS_RANGE[1]) = Field(
        1e-5,
        description=f"Epsilon added to the variance. {LIMIT}below 1e-12 fp32 rounding loses it.",
    )
    placement: Literal["pre", "post", "sandwich", "output"] = Field(
        "pre",
        description="pre: norm before each sub-layer; post: norm after the residual add; "
        "sandwich: norm before and after each sub-layer; output: norm on each sub-layer's "
        "output only, before the residual add (OLMo 2; the final norm is kept).",
    )


class TransformerConfig(CheckedSection):
    """A GPT-style decoder-only Transformer: every component configurable."""

    name: Literal["transformer"] = Field("transformer", description="Model family.")
    vocab_size: Integer(1, MAX_VOCAB) | Auto = Field(
        "auto",
        description="Vocabulary size. auto: the size of the tokenizer in data.tokenizer. "
        f"{_SIZE_LIMIT}",
    )
    d_model: Integer(1, MAX_WIDTH) = Field(
        256, description=f"Width of the residual stream. {_SIZE_LIMIT}"
    )
    num_layers: Integer(1, MAX_LAYERS) = Field(
        4, description=f"Number of Transformer blocks. {_SIZE_LIMIT}"
    )
    max_seq_len: Integer(1, MAX_SEQ_LEN) = Field(
        256, description=f"Longest sequence the model is trained on. {_SIZE_LIMIT}"
    )
    attention: AttentionConfig = Field(
        default_factory=AttentionConfig, description="Self-attention: heads, mask, variant."
    )
    positional: PositionalConfig = Field(
        default_factory=PositionalConfig, description="How token positions are encoded."
    )
    ffn: FFNConfig = Field(default_factory=FFNConfig, description="The feed-forward sub-layer.")
    norm: NormConfig = Field(
        default_factory=NormConfig, description="Normalisation layers and where they sit."
    )
    tie_embeddings: bool = Field(True, description="Share input embedding and LM-head weights.")
    parallel_layers: bool = Field(
        False,
        description="Compute attention and FFN in parallel on the same normalised input "
        "(PaLM-style).",
    )
    dropout: Number(ge=0.0, lt=1.0) = Field(
        0.0, description="Embedding dropout and residual dropout."
    )
    init_std: Number(ge=FP32_TINY, le=MAX_INIT_STD) = Field(
        0.02,
        description=f"Standard deviation of weight init. {LIMIT}larger weights overflow fp32 "
        "activations.",
    )
    residual_scaled_init: bool = Field(
        True,
        description="Scale the init of residual output projections by 1/√(2·num_layers) "
        "(GPT-2).",
    )
    parallel_norms: Literal["shared", "separate"] = Field(
        "shared",
        description="With parallel_layers: shared: attention and FFN read one normalised input "
        "(PaLM, Phi); separate: each has its own input norm (GPT-NeoX). Needs norm.placement "
        "'pre' or 'sandwich' when separate.",
    )
    lm_head_bias: bool = Field(
        False,
        description="Add a bias to the LM head (Phi). With tie_embeddings the weight is the "
        "token embedding and the bias is the head's own.",
    )
    final_logit_softcap: Number(ge=FP32_TINY, le=MAX_SOFTCAP) | None = Field(
        None, description="Soft-cap the logits: cap·tanh(logits/cap) (Gemma 2)."
    )
    embedding_scale: Number(ge=FP32_TINY, le=MAX_WIDTH) | Literal["sqrt_d_model"] = Field(
        1.0,
        description="Factor on the token embeddings (not on a tied LM head). sqrt_d_model: "
        "√d_model in the model's dtype (Gemma).",
    )

    residual_scale: Number(ge=FP32_TINY, le=MAX_MULTIPLIER) = Field(
        1.0,
        description="Factor on each sub-layer's output before the residual add (Granite's "
        "residual_multiplier).",
    )
    logit_divisor: Number(ge=FP32_TINY, le=MAX_MULTIPLIER) = Field(
        1.0,
        description="The logits are divided by it, before final_logit_softcap (Granite's "
        "logits_scaling).",
    )

    def describe(self) -> str:
        attention = self.attention
        return (
            f"{self.name}, {self.num_layers} layers, d_model {self.d_model}, "
            f"{attention.variant} {attention.num_heads} heads, {self.positional.encoding}"
        )

    def rotary_dim(self) -> int:
        """The dims of each head that RoPE rotates."""
        return int(self.resolved_head_dim() * self.positional.rope_fraction)

    def _rope_problems(self, head_dim: int) -> list[Problem]:
        positional, found = self.positional, []
        rotary = int(head_dim * positional.rope_fraction)
        if positional.rope_fraction != 1.0 and (rotary < 2 or rotary % 2):
            found.append(("positional.rope_fraction",
                          f"int(head_dim·rope_fraction) = int({head_dim}·{positional.rope_fraction})"
                          f" = {rotary} rotated dims; allowed: a fraction giving an even number ≥ 2"))
        changed = [key for key in ("rope_fraction", "rope_pairing")
                   if getattr(positional, key) != PositionalConfig.model_fields[key].default]
        if self.attention.variant == "complex" and changed:
            found.append((f"positional.{changed[0]}",
                          f"{changed[0]}={getattr(positional, changed[0])!r}: complex attention "
                          "rotates every (re, im) pair of the head as one phase; allowed: "
                          "rope_fraction 1.0 and rope_pairing 'half'"))
        return found

    def layer_encodings(self) -> list[str]:
        """Each layer's positional encoding: positional.layer_pattern repeated, or encoding."""
        pattern = self.positional.layer_pattern or [self.positional.encoding]
        return [pattern[i % len(pattern)] for i in range(self.num_layers)]

    def layer_masks(self) -> list[str]:
        """Each layer's mask type: the layer pattern repeated, or mask_type everywhere."""
        pattern = self.attention.layer_pattern or [self.attention.mask_type]
        return [pattern[i % len(pattern)] for i in range(self.num_layers)]

    def _pattern_problems(self) -> list[Problem]:
        found: list[Problem] = []
        pattern = self.attention.layer_pattern
        if pattern is not None and len(pattern) > self.num_layers:
            found.append(("attention.layer_pattern", f"{len(pattern)} entries for "
                          f"num_layers={self.num_layers}; allowed: at most num_layers entries"))
        encodings = self.positional.layer_pattern
        if encodings is not None and len(encodings) > self.num_layers:
            found.append(("positional.layer_pattern", f"{len(encodings)} entries for "
                          f"num_layers={self.num_layers}; allowed: at most num_layers entries"))
        base = self.positional.sliding_rope_base
        if base is not None and self.attention.mask_type != "sliding_window":
            found.append(("positional.sliding_rope_base", f"sliding_rope_base={base} needs "
                          f"attention.mask_type 'sliding_window', not {self.attention.mask_type!r}"))
        return found

    def resolved_head_dim(self) -> int:
        if self.attention.head_dim != "auto":
            return self.attention.head_dim
        return self.d_model // self.attention.num_heads

    def resolved_attention_scale(self) -> float:
        if self.attention.scale != "auto":
            return self.attention.scale
        return self.resolved_head_dim() ** -0.5

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        heads = self.attention.num_heads
        if self.attention.head_dim == "auto" and self.d_model % heads:
            found.append(
                (
                    "attention.num_heads",
                    f"d_model={self.d_model} is not divisible by num_heads={heads}; "
                    f"set attention.head_dim or pick a divisor of {self.d_model}",
                )
            )
            return found
        head_dim = self.resolved_head_dim()
        even_because = POSITIONAL_ENCODINGS[self.positional.encoding].even_head_dim
        if even_because and head_dim % 2:
            found.append(
                ("attention.head_dim", f"{even_because}, so head_dim must be even, got {head_dim}")
            )
        elif self.attention.variant == "complex" and head_dim % 2:
            found.append(
                (
                    "attention.head_dim",
                    f"complex attention stores (re, im) pairs, so head_dim must be even, got {head_dim}",
                )
            )
        found += self._rope_problems(head_dim) + self._pattern_problems()
        found += self._parallel_norm_problems() + self._ffn_problems()
        window = self.attention.window_size
        if window is not None and window > self.max_seq_len:
            found.append(
                ("attention.window_size", f"window_size={window} exceeds max_seq_len={self.max_seq_len}")
            )
        return found

    def _ffn_problems(self) -> list[Problem]:
        # every derived size is at least 1: here the FFN's hidden size before rounding up
        found = _hidden_size_problems("ffn.expansion_factor", self.ffn.expansion_factor, self.d_model)
        moe = self.ffn.moe
        if moe is None:
            return found
        if moe.expansion_factor != "auto":
            found += _hidden_size_problems("ffn.moe.expansion_factor", moe.expansion_factor, self.d_model)
        if not any(moe.is_sparse(layer) for layer in range(self.num_layers)):
            found.append(("ffn.moe", f"no layer is sparse: first_dense_layers={moe.first_dense_layers}, "
                          f"sparse_every={moe.sparse_every} of num_layers={self.num_layers}"))
        return found

    def _parallel_norm_problems(self) -> list[Problem]:
        if self.parallel_norms != "separate":
            return []
        if not self.parallel_layers:
            return [("parallel_norms", "'separate' is only allowed with parallel_layers: true")]
        if self.norm.placement not in ("pre", "sandwich"):
            return [("parallel_norms", f"'separate' input norms need norm.placement 'pre' or "
                     f"'sandwich', not {self.norm.placement!r} (it has no input norm)")]
        return []
