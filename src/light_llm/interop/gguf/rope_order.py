"""llama.cpp's row order of Llama's Q and K projections: applied (export), undone (import).

Hugging Face Llama rotates the two halves of each head (dimension j with j + head_dim/2);
llama.cpp's llama graph rotates adjacent pairs (2j with 2j+1). Its converter therefore
interleaves the rows of q_proj and k_proj (weights and biases) head by head: within each
head the first half and the second half are woven together. Undoing it sorts the even rows
of each head before the odd ones."""

from __future__ import annotations

import torch

from light_llm.interop.gguf.file import GGUFError


def unpermute_heads(tensor: torch.Tensor, num_heads: int) -> torch.Tensor:
    """The Hugging Face row order of a llama.cpp q/k tensor (weight or bias) of `num_heads`
    heads (the KV head count for K)."""
    # [head, pair, 2, ...] → [head, 2, pair, ...]: evens of a head first, then odds
    return _swap(tensor, num_heads, (-1, 2))


def permute_heads(tensor: torch.Tensor, num_heads: int) -> torch.Tensor:
    """llama.cpp's row order of a Hugging Face q/k tensor (the inverse of `unpermute_heads`):
    within each head, row j of the first half, then row j of the second."""
    # [head, 2, pair, ...] → [head, pair, 2, ...]
    return _swap(tensor, num_heads, (2, -1))


def _swap(tensor: torch.Tensor, num_heads: int, inner: tuple[int, int]) -> torch.Tensor:
    rows = tensor.shape[0]
    if rows % (2 * num_heads):
        raise GGUFError(f"a q/k tensor of {rows} rows does not split into {num_heads} heads of pairs")
    pair = rows // num_heads // 2
    shape = tuple(pair if size == -1 else size for size in inner)
    return tensor.reshape(num_heads, *shape, *tensor.shape[1:]).transpose(1, 2).reshape(tensor.shape).contiguous()
