"""Memory a spec needs to train, estimated from the IR, and whether it fits here.

Training holds, in fp32: the weights, their gradients and AdamW's two moments (16 bytes
per parameter), plus the activations the backward pass keeps for one micro-batch of
`batch_size / grad_accum_steps` windows of `seq_len` tokens. Per block that is taken as
about 10·d_model + 4·ffn_hidden numbers per token (norm inputs, Q/K/V/output, the FFN's
hidden activations, for each routed and shared expert a token passes through in a
mixture of experts; every expert's weights are counted) plus the attention weights of
each head (all kernels but flash-attn keep them);
then the logits and their softmax gradient. It is an estimate within a small factor,
meant to refuse what cannot fit, not to size a machine exactly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from typing import Any

from light_llm.errors import LightLLMError
from light_llm.models.transformer.cost import FP32_BYTES, model_cost
from light_llm.models.transformer.ir import TransformerIR

TRAINING_BYTES_PER_PARAMETER = 16
"""fp32 weight + gradient + AdamW first and second moments."""


@dataclass(frozen=True)
class MemoryEstimate:
    parameters: int
    parameter_bytes: int  # the weights alone
    optimizer_bytes: int  # gradients and AdamW state
    activation_bytes: int  # one micro-batch, kept for the backward pass

    @property
    def training_bytes(self) -> int:
        return self.parameter_bytes + self.optimizer_bytes + self.activation_bytes


def training_memory(ir: Any, micro_batch: int, seq_len: int) -> MemoryEstimate:
    """The Transformer's estimate below; other families: their parameters counted on the
    meta device and about 10·d_model + 4·hidden numbers per token and layer."""
    if not isinstance(ir, TransformerIR):
        return _other_family_memory(ir, micro_batch, seq_len)
    parameters = model_cost(ir).parameters
    tokens = micro_batch * seq_len
    per_block = 0
    for block in ir.blocks:
        attention = block.attention
        context = min(seq_len, attention.window_size or seq_len)
        per_block += tokens * (10 * ir.d_model + 4 * block.ffn.hidden_dim * experts_per_token(block.ffn))
        if attention.kernel != "flash_attn":  # the others keep the attention weights
            per_block += micro_batch * attention.num_heads * seq_len * context
    logits = 3 * tokens * ir.vocab_size
    return MemoryEstimate(
        parameters=parameters,
        parameter_bytes=FP32_BYTES * parameters,
        optimizer_bytes=(TRAINING_BYTES_PER_PARAMETER - FP32_BYTES) * parameters,
        activation_bytes=FP32_BYTES * (per_block + logits + 2 * tokens * ir.d_model),
    )


def experts_per_token(ffn) -> int:
    """The FFNs a token's activations pass through: 1 dense, k routed + shared in a mixture."""
    return 1 if ffn.moe is None else ffn.moe.experts_per_token + ffn.moe.shared_experts


def _other_family_memory(ir: Any, micro_batch: int, seq_len: int) -> MemoryEstimate:
    import torch

    from light_llm.compiler.build import build

    with torch.device("meta"):
        parameters = sum(p.numel() for p in build(ir).parameters())
    tokens = micro_batch * seq_len
    hidden = getattr(ir, "hidden_dim", 4 * ir.d_model)
    per_layer = tokens * (10 * ir.d_model + 4 * hidden)
    return MemoryEstimate(
        parameters=parameters,
        parameter_bytes=FP32_BYTES * parameters,
        optimizer_bytes=(TRAINING_BYTES_PER_PARAMETER - FP32_BYTES) * parameters,
        activation_bytes=FP32_BYTES * (ir.num_layers * per_layer + 3 * tokens * ir.vocab_size),
    )


def physical_memory_bytes() -> int | None:
    """RAM of this machine, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def human_bytes(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


class MemoryLimitError(LightLLMError):
    """A spec whose training cannot fit in this machine's memory."""


ALLOW_LARGE = "--allow-large"


def training_shape(spec) -> tuple[int, int]:
    """(windows per micro-batch, tokens per window) of the spec's training."""
    train = spec.train
    return max(1, train.batch_size // train.grad_accum_steps), train.seq_len or spec.model.max_seq_len


def memory_line(estimate: MemoryEstimate, micro_batch: int, seq_len: int) -> str:
    return (
        f"memory: {estimate.parameters:,} parameters, weights {human_bytes(estimate.parameter_bytes)}; "
        f"training ≈ {human_bytes(estimate.training_bytes)} (gradients and AdamW state "
        f"{human_bytes(estimate.optimizer_bytes)}, activations {human_bytes(estimate.activation_bytes)} "
        f"for a micro-batch of {micro_batch} × {seq_len} tokens)"
    )


def check_fits(estimate: MemoryEstimate, available: int | None, where: str) -> None:
    """Refuse training that needs more than `available` bytes (`where` names the memory)."""
    if available is None or estimate.training_bytes <= available:
        return
    raise MemoryLimitError(
        f"training this spec needs about {human_bytes(estimate.training_bytes)} "
        f"(weights {human_bytes(estimate.parameter_bytes)}, gradients and AdamW state "
        f"{human_bytes(estimate.optimizer_bytes)}, activations {human_bytes(estimate.activation_bytes)}) "
        f"but {where} has {human_bytes(available)}; make the model or micro-batch smaller, "
        f"or pass {ALLOW_LARGE}"
    )
