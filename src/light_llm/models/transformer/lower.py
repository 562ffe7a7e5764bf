"""Lowering: a validated model config becomes a TransformerIR with every choice made."""

from __future__ import annotations

import importlib.util
import math
from dataclasses import replace

from light_llm.models.transformer.ir import (
    AttentionIR,
    BlockIR,
    FFNIR,
    MoEIR,
    NormIR,
    PositionalIR,
    Target,
    TransformerIR,
)
from light_llm.models.transformer.config import (
    AttentionConfig,
    FFNConfig,
    TransformerConfig,
)
from light_llm.models.transformer.errors import LoweringError
from light_llm.models.transformer.rope_scaling import linear_rope_factor, lower_rope_scaling
from light_llm.models.transformer.options import POSITIONAL_ENCODINGS

FFN_HIDDEN_MULTIPLE = 8


def ffn_hidden_dim(d_model: int, expansion_factor: float) -> int:
    """expansion_factor · d_model rounded up to a multiple of 8 (4.0 stays exact)."""
    raw = math.ceil(round(expansion_factor * d_model, 6))
    return -(-raw // FFN_HIDDEN_MULTIPLE) * FFN_HIDDEN_MULTIPLE


def choose_attention_kernel(config: AttentionConfig, target: Target) -> tuple[str, str]:
    # Kernel names are keys of options.ATTENTION_KERNELS.
    """The kernel for this target, and why it was chosen (shown by `lightllm compile`)."""
    if config.variant == "complex":
        if target == "export":
            return "complex_as_real", "export lowers Re(Q·K̄) to real pairs: Qr·Kr + Qi·Ki"
        return "complex_eager", "complex Q and K in torch complex64; scores Re(Q·K̄)"
    if config.sinks:
        return "sinks", "sinks: a learned logit per head in each softmax needs explicit scores"
    if config.logit_softcap is not None:
        return "softcap", "logit_softcap: scores cap·tanh(scores/cap) need explicit scores"
    if target == "export":
        return "sdpa", "export uses portable attention ops"
    if not config.use_flash_attn:
        return "sdpa", "torch scaled_dot_product_attention"
    if not _cuda_available():
        return "sdpa", "use_flash_attn is set but CUDA is not available: SDPA is used on CPU"
    if importlib.util.find_spec("flash_attn") is None:
        return "sdpa", (
            "use_flash_attn is set but flash-attn is not installed: running on CUDA raises; "
            "`pip install flash-attn`"
        )
    return "flash_attn", "flash-attn on CUDA"


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def lower_attention(
    config: TransformerConfig, positional: PositionalIR, target: Target, mask_type: str | None = None
) -> AttentionIR:
    """`mask_type`: this layer's mask (attention.layer_pattern); None: attention.mask_type."""
    attention = config.attention
    mask_type = mask_type or attention.mask_type
    kernel, reason = choose_attention_kernel(attention, target)
    return AttentionIR(
        variant=attention.variant,
        d_model=config.d_model,
        num_heads=attention.num_heads,
        num_kv_heads=attention.resolved_num_kv_heads(),
        head_dim=config.resolved_head_dim(),
        dropout=attention.dropout,
        bias=attention.bias is not False,
        output_bias=attention.bias is True,
        qk_norm=attention.qk_norm,
        qk_norm_type=config.norm.type,
        qk_norm_eps=config.norm.eps,
        scale=config.resolved_attention_scale(),
        logit_softcap=attention.logit_softcap,
        sinks=attention.sinks,
        mask_type=mask_type,
        window_size=attention.window_size if mask_type == "sliding_window" else None,
        use_flash_attn=attention.use_flash_attn,
        kernel=kernel,
        kernel_reason=reason,
        positional=positional,
    )


def layer_attention(config: TransformerConfig, positional: PositionalIR, target: Target) -> list[AttentionIR]:
    """Each layer's attention: its mask from attention.layer_pattern, its encoding from
    positional.layer_pattern, and for sliding-window layers the RoPE base
    positional.sliding_rope_base where set, unscaled (rope_scaling is the global layers').
    One IR per distinct kind."""
    sliding_base = config.positional.sliding_rope_base
    sliding = positional if sliding_base is None else replace(
        positional, rope_base=sliding_base, rope_scaling=1.0, rope_scaling_rule=None)
    layers = list(zip(config.layer_masks(), config.layer_encodings()))

    def layer_positional(mask: str, encoding: str) -> PositionalIR:
        chosen = sliding if mask == "sliding_window" else positional
        return chosen if encoding == chosen.encoding else replace(
            chosen, encoding=encoding, uses_position_ids=POSITIONAL_ENCODINGS[encoding].reads_positions)

    kinds = {(mask, encoding): lower_attention(config, layer_positional(mask, encoding), target, mask)
             for mask, encoding in dict.fromkeys(layers)}
    return [kinds[layer] for layer in layers]


def lower_ffn(ffn: FFNConfig, d_model: int) -> FFNIR:
    """The dense FFN (every layer's, without ffn.moe)."""
    activation = ffn.resolved_activation()
    return FFNIR(
        variant=ffn.variant,
        d_model=d_model,
        hidden_dim=ffn_hidden_dim(d_model, ffn.expansion_factor),
        activation=activation,
        dropout=ffn.dropout,
        bias=ffn.bias,
        swiglu_alpha=ffn.swiglu_alpha,
        swiglu_limit=ffn.swiglu_limit,
    )


def lower_moe(ffn: FFNConfig, d_model: int) -> FFNIR:
    """The sparse layers' FFN: its hidden size is each expert's."""
    moe = ffn.moe
    factor = ffn.expansion_factor if moe.expansion_factor == "auto" else moe.expansion_factor
    return replace(
        lower_ffn(ffn, d_model),
        hidden_dim=ffn_hidden_dim(d_model, factor),
        moe=MoEIR(
            experts=moe.experts, experts_per_token=moe.experts_per_token, router=moe.router,
            normalize_topk=moe.normalize_topk and moe.router == "softmax_topk", router_bias=moe.router_bias,
            shared_experts=moe.shared_experts, shared_expert_gate=moe.shared_expert_gate,
            aux_loss_coef=moe.aux_loss_coef, z_loss_coef=moe.z_loss_coef,
        ),
    )


def layer_ffns(config: TransformerConfig) -> list[FFNIR]:
    """Each layer's FFN: a mixture of experts where ffn.moe makes the layer sparse."""
    dense = lower_ffn(config.ffn, config.d_model)
    if config.ffn.moe is None:
        return [dense] * config.num_layers
    sparse = lower_moe(config.ffn, config.d_model)
    return [sparse if config.ffn.moe.is_sparse(i) else dense for i in range(config.num_layers)]


def lower(
    config: TransformerConfig, *, vocab_size: int | None = None, target: Target = "eager"
) -> TransformerIR:
    """Lower a model config. `vocab_size` resolves `vocab_size: auto` (from the tokenizer)."""
    resolved_vocab = config.vocab_size if config.vocab_size != "auto" else vocab_size
    if resolved_vocab is None:
        raise LoweringError(
            "model.vocab_size is 'auto': it is resolved from the tokenizer; "
            "lower the whole spec (lower_spec) or pass vocab_size"
        )
    if vocab_size is not None and config.vocab_size != "auto" and vocab_size != config.vocab_size:
        raise LoweringError(
            f"model.vocab_size={config.vocab_size} but the tokenizer has {vocab_size} tokens; "
            f"set model.vocab_size to {vocab_size} or 'auto'"
        )
    positional = PositionalIR(
        encoding=config.positional.encoding,
        uses_position_ids=POSITIONAL_ENCODINGS[config.positional.encoding].reads_positions,
        max_seq_len=config.max_seq_len,
        rope_base=config.positional.rope_base,
        rope_scaling=linear_rope_factor(config.positional.rope_scaling),
        rope_fraction=config.positional.rope_fraction,
        rope_pairing=config.positional.rope_pairing,
        rope_scaling_rule=lower_rope_scaling(config.positional.rope_scaling),
    )
    norm = NormIR(type=config.norm.type, dim=config.d_model, eps=config.norm.eps)
    attention = layer_attention(config, positional, target)
    ffn = layer_ffns(config)
    blocks = tuple(
        BlockIR(
            index=i,
            attention=attention[i],
            ffn=ffn[i],
            norm=norm,
            placement=config.norm.placement,
            parallel=config.parallel_layers,
            residual_dropout=config.dropout,
            parallel_norms=config.parallel_norms if config.parallel_layers else "shared",
            residual_scale=config.residual_scale,
        )
        for i in range(config.num_layers)
    )
    return TransformerIR(
        vocab_size=resolved_vocab,
        d_model=config.d_model,
        num_layers=config.num_layers,
        max_seq_len=config.max_seq_len,
        positional=positional,
        blocks=blocks,
        final_norm=None if config.norm.placement == "post" else norm,
        tie_embeddings=config.tie_embeddings,
        embedding_dropout=config.dropout,
        init_std=config.init_std,
        residual_scaled_init=config.residual_scaled_init,
        target=target,
        lm_head_bias=config.lm_head_bias,
        final_logit_softcap=config.final_logit_softcap,
        embedding_scale=resolved_embedding_scale(config),
        logit_divisor=config.logit_divisor,
    )


def resolved_embedding_scale(config: TransformerConfig) -> float:
    if config.embedding_scale == "sqrt_d_model":
        return math.sqrt(config.d_model)
    return config.embedding_scale
