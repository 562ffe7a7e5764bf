"""The decoder-only Transformer, assembled from its IR.

Two entry points share one set of weights:
- `forward(tokens) -> logits` for training and scoring;
- `forward_with_cache(input_ids, attention_mask, position_ids, past)` for prefill and
  KV-cache decoding with plain tensors, the signature every export reproduces.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from light_llm.models.transformer.ir import TransformerIR
from light_llm.models.transformer.block import KV, build_block
from light_llm.models.transformer.constant_factors import build_divisor, build_scale
from light_llm.models.transformer.errors import ModelInputError
from light_llm.models.transformer.ffn import output_projections
from light_llm.models.transformer.linear import Linear
from light_llm.models.transformer.mask import AttentionBias
from light_llm.models.transformer.norm import build_norm
from light_llm.models.transformer.positional import build_embedding_positions
from light_llm.models.transformer.softcap import build_logit_cap


class Transformer(nn.Module):
    def __init__(self, config):
        """`config`: a TransformerIR, or a TransformerConfig (lowered for eager use)."""
        super().__init__()
        if not isinstance(config, TransformerIR):
            from light_llm.models.transformer.lower import lower

            config = lower(config)
        self.ir = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.d_model)
        self.embedding_scale = build_scale(config.embedding_scale)
        self.embed_positions = build_embedding_positions(config.positional, config.d_model)
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        # One bias per distinct mask (a layer pattern mixes sliding-window and global layers).
        first_of_kind = {block.attention.mask_kind: block.attention for block in reversed(config.blocks)}
        kinds = list(dict.fromkeys(block.attention.mask_kind for block in config.blocks))
        self.attention_biases = nn.ModuleList(AttentionBias(first_of_kind[kind]) for kind in kinds)
        self.bias_of_block = [kinds.index(block.attention.mask_kind) for block in config.blocks]
        self.blocks = nn.ModuleList(build_block(block) for block in config.blocks)
        self.final_norm = build_norm(config.final_norm) if config.final_norm else nn.Identity()
        self.lm_head = Linear(config.d_model, config.vocab_size, bias=config.lm_head_bias)
        self.logit_divisor = build_divisor(config.logit_divisor)
        self.logit_cap = build_logit_cap(config.final_logit_softcap)
        self.reset_parameters()
        if config.tie_embeddings:
            self.lm_head.weight = self.embed_tokens.weight

    def reset_parameters(self) -> None:
        """The initialisation rule:
        - every Linear weight and every embedding (tokens, learned positions) is drawn
          from Normal(0, init_std); an untied lm_head too, a tied one is the embedding;
        - biases are zero; norm weights are one (LayerNorm biases zero);
        - with residual_scaled_init, the projections that write into the residual stream
          (attention o_proj, FFN down_proj / fc_out) are drawn from
          Normal(0, init_std / √(2·num_layers)) instead (GPT-2: two residual writes per
          block, so the residual stream's variance stays independent of depth)."""
        std = self.ir.init_std
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=std)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        if self.ir.residual_scaled_init:
            scaled_std = std / math.sqrt(2 * self.ir.num_layers)
            for block in self.blocks:
                for projection in (block.attention.output_projection, *output_projections(block.ffn)):
                    nn.init.normal_(projection.weight, mean=0.0, std=scaled_std)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: [B, S] int64 → logits [B, S, vocab_size]."""
        batch, seq = tokens.shape
        position_ids = torch.arange(seq, device=tokens.device).expand(batch, seq)
        logits, _ = self._run(tokens, None, position_ids, None)
        return logits

    def forward_with_cache(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor,
        past_key_values: list[KV],
    ) -> tuple[torch.Tensor, list[KV]]:
        """input_ids, position_ids: [B, S]; attention_mask: [B, P + S] (1 = attend);
        past_key_values: one (key, value) `[B, Hkv, P, D]` per layer (P may be 0).
        Returns logits [B, S, vocab] and the present (key, value) `[B, Hkv, P + S, D]`."""
        if not self.ir.causal:
            raise ModelInputError(
                "bidirectional attention cannot decode incrementally: every token attends to "
                "later ones, so a KV cache would change earlier outputs; call forward(tokens)"
            )
        return self._run(input_ids, attention_mask, position_ids, past_key_values)

    def forward_padded(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor
    ) -> torch.Tensor:
        """The whole sequence at once, padding slots (attention_mask 0) never attended, no
        cache: the full-sequence export signature of bidirectional models. → logits [B, S, vocab]."""
        return self._run(input_ids, attention_mask, position_ids, None)[0]

    def empty_cache(self, batch: int, device: torch.device | None = None) -> list[KV]:
        """Past keys and values of length 0, for a prefill through forward_with_cache."""
        shape = (batch, self.ir.num_kv_heads, 0, self.ir.head_dim)
        return [
            (torch.zeros(shape, device=device), torch.zeros(shape, device=device))
            for _ in self.blocks
        ]

    def _run(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None,
        position_ids: torch.Tensor,
        past_key_values: list[KV] | None,
    ) -> tuple[torch.Tensor, list[KV]]:
        x = self.embedding_scale(self.embed_tokens(input_ids))  # [B, S, d_model]
        positions = self.embed_positions(position_ids)
        if positions is not None:
            x = x + positions
        x = self.embedding_dropout(x)
        biases = [bias(input_ids.shape[1], attention_mask, x.device, torch.float32)
                  for bias in self.attention_biases]
        presents: list[KV] = []
        for i, block in enumerate(self.blocks):
            past = past_key_values[i] if past_key_values is not None else None
            x, present = block(x, position_ids, biases[self.bias_of_block[i]], past)
            presents.append(present)
        return self.logit_cap(self.logit_divisor(self.lm_head(self.final_norm(x)))), presents

    @property
    def attention_bias(self) -> AttentionBias:
        """The first layer's attention bias (the only one without a layer pattern)."""
        return self.attention_biases[0]

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def __repr__(self) -> str:
        ir = self.ir
        attention = ir.blocks[0].attention
        block = ir.blocks[0]
        summary = (
            f"Transformer: {self.num_parameters():,} parameters | vocab {ir.vocab_size}, "
            f"d_model {ir.d_model}, {ir.num_layers} layers, max_seq_len {ir.max_seq_len}\n"
            f"  attention {attention.variant} ({attention.num_heads} heads, "
            f"{attention.num_kv_heads} kv, head_dim {attention.head_dim}, {attention.mask_type}"
            f"{f' window {attention.window_size}' if attention.window_size else ''}, "
            f"kernel {attention.kernel}) | positional {ir.positional.encoding} | "
            f"ffn {block.ffn.variant} ({block.ffn.hidden_dim}) | "
            f"norm {block.norm.type} {block.placement}"
            f"{' parallel' if block.parallel else ''} | tied {ir.tie_embeddings}"
            f"{' | lm_head bias' if ir.lm_head_bias else ''}\n"
        )
        return summary + super().__repr__()
