"""Costs derived from the IR alone: parameters, FLOPs per token, KV-cache bytes.

Conventions (those of Kaplan et al. 2020 and the Chinchilla appendix):
- FLOPs count matrix multiplies only, 2 per multiply-add; norms, activations, softmax
  and embedding look-ups are left out (they are a small fraction).
- Attention costs 2·2·num_heads·head_dim FLOPs per query per key (Q·Kᵀ, then weights·V),
  with every key of the context counted: dense kernels compute masked entries too.
  Complex attention counts as its real lowering, Re(Q·K̄) = Qr·Kr + Qi·Ki over head_dim
  reals, so it costs the same as a real head of head_dim.
- Training costs 3× the forward pass (the backward pass computes gradients for both
  the inputs and the weights of every multiply).
- A mixture of experts counts FLOPs over the experts a token is routed to (and the shared
  ones and the router); its parameters are counted whole (`parameters`, which training
  memory reads) and as one token uses them (`active_parameters`).
- The KV cache stores K and V of every layer, `num_kv_heads·head_dim` numbers each.
"""

from __future__ import annotations

from dataclasses import dataclass

from light_llm.models.transformer.ir import AttentionIR, BlockIR, FFNIR, NormIR, TransformerIR
from light_llm.models.transformer.options import FFN_VARIANTS, NORMS, POSITIONAL_ENCODINGS

FP32_BYTES = 4
TRAINING_TO_FORWARD = 3


def linear_parameters(fan_in: int, fan_out: int, bias: bool) -> int:
    return fan_in * fan_out + (fan_out if bias else 0)


def attention_parameters(ir: AttentionIR) -> int:
    """Q, K, V (bias: `ir.bias`), output (bias: `ir.output_bias`), the QK norms and the
    sink logits (one per query head)."""
    norms = ir.qk_norms()
    return (
        linear_parameters(ir.d_model, ir.q_size, ir.bias)
        + 2 * linear_parameters(ir.d_model, ir.kv_size, ir.bias)
        + linear_parameters(ir.q_size, ir.d_model, ir.output_bias)
        + (sum(norm_parameters(norm) for norm in norms) if norms else 0)
        + (ir.num_heads if ir.sinks else 0)
    )


def ffn_projections(ir: FFNIR) -> int:
    """Matrices of width d_model × hidden_dim: gate, up and down, or in and out."""
    return FFN_VARIANTS[ir.variant].projections


def dense_ffn_parameters(ir: FFNIR) -> int:
    inward = ffn_projections(ir) - 1
    return inward * linear_parameters(ir.d_model, ir.hidden_dim, ir.bias) + linear_parameters(
        ir.hidden_dim, ir.d_model, ir.bias
    )


def ffn_parameters(ir: FFNIR, active: bool = False) -> int:
    """Every parameter of the FFN; `active`: those one token uses (its k experts of a
    mixture, the shared experts and the router)."""
    if ir.moe is None:
        return dense_ffn_parameters(ir)
    routed = ir.moe.experts_per_token if active else ir.moe.experts
    shared = dense_ffn_parameters(ir.shared) if ir.shared is not None else 0
    router = linear_parameters(ir.d_model, ir.moe.experts, ir.moe.router_bias)
    gate = ir.d_model if ir.moe.shared_expert_gate else 0
    return routed * dense_ffn_parameters(ir.expert) + shared + router + gate


def ffn_forward_flops(ir: FFNIR) -> int:
    """Multiply-adds per token: the k routed experts only, the shared ones and the router."""
    if ir.moe is None:
        return ffn_projections(ir) * ir.d_model * ir.hidden_dim
    routed = (ir.moe.experts_per_token + ir.moe.shared_experts) * ffn_projections(ir) * ir.d_model * ir.hidden_dim
    return routed + ir.d_model * (ir.moe.experts + (1 if ir.moe.shared_expert_gate else 0))


def norm_parameters(ir: NormIR) -> int:
    return NORMS[ir.type].parameters_per_dim * ir.dim


def norms_per_block(ir: BlockIR) -> int:
    """Input norms (pre, sandwich): one per sub-layer, one shared by a parallel block's
    two unless parallel_norms is 'separate'; output norms (sandwich, output): one per
    sub-layer; post: one per residual add (one in a parallel block)."""
    two_sublayers = 2
    inputs = 0
    if ir.placement in ("pre", "sandwich"):
        inputs = 1 if ir.parallel and ir.parallel_norms == "shared" else two_sublayers
    outputs = two_sublayers if ir.placement in ("sandwich", "output") else 0
    post = (1 if ir.parallel else two_sublayers) if ir.placement == "post" else 0
    return inputs + outputs + post


def block_parameters(ir: BlockIR, active: bool = False) -> int:
    return (
        attention_parameters(ir.attention)
        + ffn_parameters(ir.ffn, active)
        + norms_per_block(ir) * norm_parameters(ir.norm)
    )


def block_forward_flops(ir: BlockIR, context: int) -> int:
    """Forward FLOPs for one token of a block attending to `context` keys."""
    attention = ir.attention
    projections = attention.d_model * (2 * attention.q_size + 2 * attention.kv_size)
    ffn = ffn_forward_flops(ir.ffn)
    scores_and_values = 2 * attention.q_size * context
    return 2 * (projections + ffn + scores_and_values)


@dataclass(frozen=True)
class LayerCost:
    index: int
    parameters: int
    forward_flops_per_token: int
    active_parameters: int  # used by one token: fewer than `parameters` in a sparse layer


@dataclass(frozen=True)
class ModelCost:
    """Costs of a TransformerIR; FLOPs per token at a context of `context` keys."""

    context: int
    embedding_parameters: int  # token (and learned position) embeddings
    layers: tuple[LayerCost, ...]
    final_norm_parameters: int
    lm_head_parameters: int  # 0 when tied to the token embedding (plus its bias, if any)
    forward_flops_per_token: int
    kv_cache_bytes_per_token: int

    @property
    def parameters(self) -> int:
        return (
            self.embedding_parameters
            + sum(layer.parameters for layer in self.layers)
            + self.final_norm_parameters
            + self.lm_head_parameters
        )

    @property
    def active_parameters(self) -> int:
        """The parameters one token uses: a mixture of experts' chosen experts only."""
        return self.parameters + sum(layer.active_parameters - layer.parameters for layer in self.layers)

    @property
    def training_flops_per_token(self) -> int:
        return TRAINING_TO_FORWARD * self.forward_flops_per_token

    def kv_cache_bytes(self, tokens: int) -> int:
        return tokens * self.kv_cache_bytes_per_token


def positional_parameters(ir: TransformerIR) -> int:
    encoding = POSITIONAL_ENCODINGS[ir.positional.encoding]
    return encoding.embedding_parameters(ir.max_seq_len, ir.d_model)


def kv_cache_bytes_per_token(ir: TransformerIR, bytes_per_element: int = FP32_BYTES) -> int:
    return sum(2 * block.attention.kv_size for block in ir.blocks) * bytes_per_element


def model_cost(
    ir: TransformerIR, context: int | None = None, bytes_per_element: int = FP32_BYTES
) -> ModelCost:
    """Costs of `ir`; FLOPs at `context` keys per query (default max_seq_len)."""
    context = ir.max_seq_len if context is None else context
    embeddings = ir.vocab_size * ir.d_model + positional_parameters(ir)
    layers = tuple(
        LayerCost(block.index, block_parameters(block), block_forward_flops(block, context),
                  block_parameters(block, active=True))
        for block in ir.blocks
    )
    lm_head_flops = 2 * ir.d_model * ir.vocab_size
    return ModelCost(
        context=context,
        embedding_parameters=embeddings,
        layers=layers,
        final_norm_parameters=norm_parameters(ir.final_norm) if ir.final_norm else 0,
        lm_head_parameters=(0 if ir.tie_embeddings else ir.d_model * ir.vocab_size)
        + (ir.vocab_size if ir.lm_head_bias else 0),
        forward_flops_per_token=sum(layer.forward_flops_per_token for layer in layers)
        + lm_head_flops,
        kv_cache_bytes_per_token=kv_cache_bytes_per_token(ir, bytes_per_element),
    )
