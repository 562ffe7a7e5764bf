"""The Transformer's compile report: a per-layer table, totals and the kernels chosen, from the IR."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from light_llm.formatting import human
from light_llm.models.transformer.cost import ModelCost, model_cost, norm_parameters, positional_parameters
from light_llm.models.transformer.ir import BlockIR, FFNIR, TransformerIR
from light_llm.models.transformer.rope_scaling import describe as describe_rope


def describe_attention(block: BlockIR) -> str:
    attention = block.attention
    window = f" w={attention.window_size}" if attention.window_size else ""
    return (
        f"{attention.variant} {attention.num_heads}q/{attention.num_kv_heads}kv×"
        f"{attention.head_dim} {attention.mask_type}{window}{attention_extras(attention)}"
    )


def describe_positional(ir: TransformerIR) -> str:
    details = describe_rope(ir.positional) if ir.positional.encoding == "rope" else ""
    bases = {block.attention.positional.rope_base for block in ir.blocks} - {ir.positional.rope_base}
    if ir.positional.encoding == "rope" and bases:
        unscaled = " unscaled" if ir.positional.rope_scaling != 1.0 or ir.positional.rope_scaling_rule else ""
        details = ", ".join(filter(None, [details, f"sliding-window layers base {bases.pop():g}{unscaled}"]))
    unrotated = [str(block.index) for block in ir.blocks if block.attention.positional.encoding != ir.positional.encoding]
    if unrotated:
        details = ", ".join(filter(None, [details, f"no positional encoding in layers {', '.join(unrotated)}"]))
    return f"{ir.positional.encoding} ({details})" if details else ir.positional.encoding


def attention_extras(attention) -> str:
    """The attention options away from their defaults, e.g. ` bias=qkv qk_norm=per_head`."""
    extras = []
    if attention.bias:
        extras.append("bias=all" if attention.output_bias else "bias=qkv")
    if attention.qk_norm != "none":
        extras.append(f"qk_norm={attention.qk_norm}")
    if attention.scale is not None and attention.scale != attention.head_dim ** -0.5:
        extras.append(f"scale={attention.scale:g}")
    if attention.logit_softcap is not None:
        extras.append(f"softcap={attention.logit_softcap:g}")
    if attention.sinks:
        extras.append("sinks")
    return "".join(f" {extra}" for extra in extras)


def describe_ffn(ffn: FFNIR) -> str:
    dense = f"{ffn.variant} {ffn.hidden_dim} ({ffn.activation})"
    if ffn.moe is None:
        return dense
    shared = f" + {ffn.moe.shared_experts} shared" if ffn.moe.shared_experts else ""
    return f"moe top-{ffn.moe.experts_per_token}/{ffn.moe.experts}{shared} × {dense}"


def layer_table(ir: TransformerIR, cost: ModelCost) -> Table:
    table = Table(title=f"{ir.family}: {ir.num_layers} layers, d_model {ir.d_model}")
    for column in ("layer", "attention", "kernel", "ffn", "norm", "params", "FLOPs/token"):
        table.add_column(column, justify="right" if column in ("params", "FLOPs/token") else "left")
    embedding = f"tokens {ir.vocab_size}×{ir.d_model}"
    if positional_parameters(ir):
        embedding += f" + positions {ir.max_seq_len}×{ir.d_model}"
    table.add_row("embed", embedding, "", "", "", human(cost.embedding_parameters), "")
    for block, layer in zip(ir.blocks, cost.layers):
        table.add_row(
            str(block.index),
            describe_attention(block),
            block.attention.kernel,
            describe_ffn(block.ffn),
            f"{block.norm.type} {block.placement}{' parallel' if block.parallel else ''}"
            f"{' (2 norms)' if block.parallel and block.parallel_norms == 'separate' else ''}",
            human(layer.parameters),
            human(layer.forward_flops_per_token),
        )
    if ir.final_norm:
        table.add_row("final", "", "", "", ir.final_norm.type, human(norm_parameters(ir.final_norm)), "")
    head = "tied to embed" if ir.tie_embeddings else f"{ir.d_model}×{ir.vocab_size}"
    head += " + bias" if ir.lm_head_bias else ""
    table.add_row("lm_head", head, "", "", "", human(cost.lm_head_parameters),
                  human(2 * ir.d_model * ir.vocab_size))
    return table


def totals(ir: TransformerIR, cost: ModelCost) -> Text:
    lines = [
        f"parameters          {cost.parameters:,} ({human(cost.parameters)})",
        *([f"active parameters   {cost.active_parameters:,} ({human(cost.active_parameters)}) per token: "
           f"the routed experts it uses, FLOPs count these"]
          if cost.active_parameters != cost.parameters else []),
        f"FLOPs/token         forward {human(cost.forward_flops_per_token)}, training "
        f"{human(cost.training_flops_per_token)} (at context {cost.context})",
        f"KV cache            {human(cost.kv_cache_bytes_per_token, 'B')}/token, "
        f"{human(cost.kv_cache_bytes(ir.max_seq_len), 'B')} per sequence at max_seq_len "
        f"{ir.max_seq_len} (fp32)",
        f"positional          {describe_positional(ir)}",
    ]
    if ir.embedding_scale != 1.0:
        lines.append(f"embedding scale     ×{ir.embedding_scale:g} (token embeddings only)")
    if ir.blocks[0].residual_scale != 1.0:
        lines.append(f"residual scale      ×{ir.blocks[0].residual_scale:g} (each sub-layer's output)")
    if ir.logit_divisor != 1.0:
        lines.append(f"logit divisor       logits/{ir.logit_divisor:g}")
    if ir.final_logit_softcap is not None:
        lines.append(f"final logit cap     {ir.final_logit_softcap:g}·tanh(logits/{ir.final_logit_softcap:g})")
    kernels = {(block.attention.kernel, block.attention.kernel_reason) for block in ir.blocks}
    lines += [f"attention kernel    {kernel}: {reason}" for kernel, reason in sorted(kernels)]
    return Text("\n".join(lines))


def summary(ir: TransformerIR) -> Group:
    """The per-layer table and the totals, ready for a rich Console."""
    cost = model_cost(ir)
    return Group(layer_table(ir, cost), totals(ir, cost))
