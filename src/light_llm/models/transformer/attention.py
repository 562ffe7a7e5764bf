"""Multi-head attention with grouped KV heads, a plain-tensor KV cache and pluggable
kernels (SDPA, flash-attn, complex).

Complex attention (`variant: complex`), precisely:
- `head_dim` counts real numbers. A complex head holds head_dim/2 complex numbers; the
  projection output of a head is laid out (re | im): the first half holds the real
  parts, the second half the imaginary parts. head_dim must therefore be even, and the
  parameter count equals that of a real head of the same head_dim.
- Q and K are complex; V is real (the values are mixed by real attention weights).
- scores[s, t] = Re(Q_s · conj(K_t)) / √head_dim, the real part of the Hermitian inner
  product over the head_dim/2 complex numbers, scaled by √ of the real count so that
  it is the same number as the real dot product below; masks and ALiBi are added to
  the scores as for real heads; softmax over t, then weights · V.
- With `rope`, position p multiplies each complex number j of Q and K by e^{iθ_j·p},
  θ_j = rope_base^(-2j/head_dim) (positions divided by rope_scaling when set). Since
  Re(q·e^{iθp} · conj(k·e^{iθp'})) = Re(q·k̄·e^{iθ(p-p')}), scores depend on p - p' only.
- Export lowering: Re(Q·K̄) = Qr·Kr + Qi·Ki is the real dot product of the (re | im)
  halves, and the phase e^{iθp} is RoPE's rotation of (re, im) pairs in the half-split
  layout, so the export target runs the same weights through the real SDPA kernel and
  RotaryEmbedding (kernel "complex_as_real") and gives the same logits.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from light_llm.models.transformer.errors import LoweringError
from light_llm.models.transformer.ir import AttentionIR
from light_llm.models.transformer.linear import Linear
from light_llm.models.transformer.options import ATTENTION_KERNELS, resolve_path
from light_llm.models.transformer.qk_norm import build_qk_norms, norm_shapes
from light_llm.models.transformer.positional import as_complex, build_rotation, build_score_bias
from light_llm.models.tracing import is_exporting, is_tracing


def expand_kv_heads(x: torch.Tensor, groups: int) -> torch.Tensor:
    """[B, Hkv, T, D] → [B, Hkv·groups, T, D], each KV head shared by `groups` query heads."""
    if groups == 1:
        return x
    batch, kv_heads, length, dim = x.shape
    return x[:, :, None].expand(batch, kv_heads, groups, length, dim).reshape(
        batch, kv_heads * groups, length, dim
    )


def masked(scores: torch.Tensor, bias: torch.Tensor | None, is_causal: bool) -> torch.Tensor:
    """scores + bias; without a bias, a causal kernel masks the future itself."""
    if bias is not None:
        return scores + bias
    if is_causal:
        seq, total = scores.shape[-2:]
        future = torch.ones(seq, total, dtype=torch.bool, device=scores.device).triu(total - seq + 1)
        return scores.masked_fill(future, torch.finfo(scores.dtype).min)
    return scores


def attend(
    scores: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None, is_causal: bool,
    dropout: nn.Module,
) -> torch.Tensor:
    """softmax(scores + bias) · V for kernels that compute their scores explicitly.
    scores: [B, H, S, T]; v: [B, H, T, D]."""
    weights = dropout(masked(scores, bias, is_causal).softmax(dim=-1))
    return (weights @ v.float()).to(v.dtype)


def single_query_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, scale: float
) -> torch.Tensor:
    """softmax(q·Kᵀ·scale + bias)·V for one query per row (a decode step) with the query
    heads of each KV head as rows of one product: no per-head copy of the cache, and
    plain products and a softmax that Inductor fuses into its own kernels: a compiled
    step 3-8 % faster than with the SDPA call and its expanded copies. q: [B, H, 1, D];
    k, v: [B, Hkv, T, D]; bias: [B, 1 or H, 1, T]."""
    batch, heads, _, dim = q.shape
    kv_heads = k.shape[1]
    groups = heads // kv_heads
    grouped = q.reshape(batch, kv_heads, groups, dim)  # query head h = kv head h // groups
    if bias.shape[1] != 1:  # a bias per query head (ALiBi), grouped the same way
        bias = bias.reshape(bias.shape[0], kv_heads, groups, bias.shape[-1])
    scores = (grouped.float() @ k.float().transpose(-1, -2)) * scale + bias.float()
    out = scores.softmax(dim=-1) @ v.float()
    return out.reshape(batch, heads, 1, dim).to(v.dtype)


class SDPAKernel(nn.Module):
    """torch scaled_dot_product_attention, with a real-valued (or complex-as-real) head."""

    def __init__(self, ir: AttentionIR):
        super().__init__()
        self.groups = ir.num_heads // ir.num_kv_heads
        self.dropout = ir.dropout
        self.is_causal = ir.mask_type != "bidirectional"
        self.scale = ir.score_scale
        self.flash_requested = ir.use_flash_attn and ir.kernel == "sdpa"

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        if self.flash_requested and q.is_cuda:
            raise LoweringError(
                "attention.use_flash_attn is set and the model runs on CUDA, but flash-attn is "
                "not installed: `pip install flash-attn`, or set use_flash_attn: false"
            )
        if q.shape[2] == 1 and bias is not None and torch.compiler.is_compiling() and not is_exporting():
            return single_query_attention(q, k, v, bias, self.scale)
        # On CPU, torch's fused kernel reads each KV head for its whole group (enable_gqa)
        # instead of a copy expanded per query head; elsewhere (CUDA fp32 would fall back
        # to the math kernel) and in exported graphs (portable ops), the heads are expanded.
        native_gqa = self.groups > 1 and q.device.type == "cpu" and not is_tracing()
        if not native_gqa:
            k, v = expand_kv_heads(k, self.groups), expand_kv_heads(v, self.groups)
        return F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=None if bias is None else bias.to(q.dtype),
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=bias is None and self.is_causal,
            enable_gqa=native_gqa,
            scale=self.scale,
        )


class ComplexKernel(nn.Module):
    """Scores Re(Q·K̄)/√head_dim on complex Q and K (head_dim/2 complex numbers each);
    V stays real. The export target replaces this with SDPAKernel, since
    Re(Q·K̄) = Qr·Kr + Qi·Ki is the real dot product of the (re | im) halves."""

    def __init__(self, ir: AttentionIR):
        super().__init__()
        self.groups = ir.num_heads // ir.num_kv_heads
        self.scale = ir.score_scale
        self.dropout = nn.Dropout(ir.dropout)
        self.is_causal = ir.mask_type != "bidirectional"

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        q_c = as_complex(q)  # [B, H, S, D/2]
        k_c = as_complex(expand_kv_heads(k, self.groups))  # [B, H, T, D/2]
        scores = (q_c @ k_c.conj().transpose(-2, -1)).real * self.scale  # [B, H, S, T]
        return attend(scores, expand_kv_heads(v, self.groups), bias, self.is_causal, self.dropout)


class FlashAttentionKernel(nn.Module):
    """flash-attn on CUDA. Masks, windows and ALiBi are applied by flash-attn itself;
    calls that carry an explicit bias (padding, KV-cache decode) go through SDPA."""

    def __init__(self, ir: AttentionIR):
        super().__init__()
        self.fallback = SDPAKernel(ir)
        self.causal = ir.mask_type != "bidirectional"
        window = ir.window_size
        self.window = (window - 1, 0) if window is not None else (-1, -1)
        self.dropout = ir.dropout
        self.scale = ir.score_scale
        self.register_buffer(
            "alibi_slopes", build_score_bias(ir).flash_attn_slopes(), persistent=False
        )

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        if bias is not None or not q.is_cuda:
            return self.fallback(q, k, v, bias)
        from flash_attn import flash_attn_func

        out = flash_attn_func(
            q.transpose(1, 2),  # flash-attn wants [B, S, H, D]
            k.transpose(1, 2),
            v.transpose(1, 2),
            dropout_p=self.dropout if self.training else 0.0,
            causal=self.causal,
            window_size=self.window,
            alibi_slopes=self.alibi_slopes,
            softmax_scale=self.scale,
        )
        return out.transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, ir: AttentionIR):
        super().__init__()
        self.num_heads = ir.num_heads
        self.num_kv_heads = ir.num_kv_heads
        self.head_dim = ir.head_dim
        self.q_proj = Linear(ir.d_model, ir.q_size, bias=ir.bias)
        self.k_proj = Linear(ir.d_model, ir.kv_size, bias=ir.bias)
        self.v_proj = Linear(ir.d_model, ir.kv_size, bias=ir.bias)
        self.o_proj = Linear(ir.q_size, ir.d_model, bias=ir.output_bias)
        self.q_norm, self.k_norm = build_qk_norms(ir)
        self.q_norm_shape, self.k_norm_shape = norm_shapes(ir)
        kernel = ATTENTION_KERNELS[ir.kernel]
        self.rotation = build_rotation(
            ir.positional, ir.head_dim, complex_phase=kernel.complex_rotation
        )
        self.kernel = resolve_path(kernel.module)(ir)

    @property
    def output_projection(self) -> nn.Linear:
        return self.o_proj

    def forward(
        self,
        x: torch.Tensor,
        position_ids: torch.Tensor,
        bias: torch.Tensor | None,
        past: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """x: [B, S, d_model]; past: K and V `[B, Hkv, P, D]` (rotated). Returns the output
        and the present K and V `[B, Hkv, P + S, D]`."""
        batch, seq, _ = x.shape
        q = self.q_norm(self.q_proj(x).view([batch, seq] + self.q_norm_shape))
        k = self.k_norm(self.k_proj(x).view([batch, seq] + self.k_norm_shape))
        q = q.view(batch, seq, self.num_heads, self.head_dim).transpose(1, 2)
        k = k.view(batch, seq, self.num_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(batch, seq, self.num_kv_heads, self.head_dim).transpose(1, 2)
        q, k = self.rotation(q, k, position_ids)  # [B, H, S, D], [B, Hkv, S, D]
        if past is not None:
            k = torch.cat((past[0].to(k.dtype), k), dim=2)  # [B, Hkv, P + S, D]
            v = torch.cat((past[1].to(v.dtype), v), dim=2)
        out = self.kernel(q, k, v, bias)  # [B, H, S, D]
        out = out.transpose(1, 2).reshape(batch, seq, self.num_heads * self.head_dim)
        return self.o_proj(out), (k, v)
