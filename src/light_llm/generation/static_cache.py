"""A fixed-capacity KV cache for the compiled decode step: every step sees tensors of the
same shapes, so one compiled graph serves a whole generation (and every later one of the
same batch size and capacity).

The cache is right-aligned, like a left-padded prompt: the newest key sits in the last
slot, and slots before the oldest token are empty and masked. Each buffer holds one slot
more than the past it feeds (`capacity + 1`): a step reads the last `capacity` slots as
its past, and the model's own `forward_with_cache` returns past + current, `capacity + 1`
slots, whose last `capacity` become the next past. So the model runs unchanged (every
attention option, mask rule and positional encoding of it), slot distances equal
position distances (sliding windows and ALiBi need that), and the past handed to each
step is a view with the same shape and strides, which a compiled graph never recompiles
for. When the tokens outgrow the capacity, the cache is copied into the next size up.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

MIN_CAPACITY = 256  # past slots of the smallest cache: most generations fit and compile once


def capacity_for(past_length: int, max_seq_len: int) -> int:
    """Past slots for a cache that must hold `past_length` tokens: the next power of two
    at or above it (at least MIN_CAPACITY), never above what the model can attend to."""
    limit = max(max_seq_len - 1, 1)
    wanted = max(MIN_CAPACITY, 1 << max(past_length - 1, 0).bit_length())
    return min(wanted, limit) if past_length <= limit else past_length


class StaticCache:
    """Per layer a key and a value buffer `[B, Hkv, capacity + 1, D]`, right-aligned."""

    def __init__(self, buffers: list[torch.Tensor], capacity: int, length: int):
        self.buffers = buffers
        self.capacity = capacity
        self.length = length  # slots of the generator's mask the cache holds (padding included)

    @classmethod
    def from_past(cls, past: Sequence[torch.Tensor], capacity: int) -> "StaticCache":
        """`past`: the plain path's keys and values `[B, Hkv, P, D]` (P ≤ capacity)."""
        length = past[0].shape[2]
        if length > capacity:
            raise ValueError(f"a past of {length} slots does not fit a cache of {capacity}")
        buffers = []
        for tensor in past:
            batch, heads, _, dim = tensor.shape
            buffer = tensor.new_zeros(batch, heads, capacity + 1, dim)
            buffer[:, :, capacity + 1 - length:] = tensor
            buffers.append(buffer)
        return cls(buffers, capacity, length)

    def past(self) -> list[torch.Tensor]:
        """The inputs of the next step: the last `capacity` slots of every buffer."""
        return [buffer[:, :, 1:] for buffer in self.buffers]

    def plain_past(self) -> list[torch.Tensor]:
        """The cached tokens as the plain path holds them, `[B, Hkv, length, D]`."""
        return [buffer[:, :, self.capacity + 1 - self.length:] for buffer in self.buffers]

    def advanced(self, presents: Sequence[torch.Tensor]) -> "StaticCache":
        """The cache after a step that returned `presents` (`capacity + 1` slots each)."""
        return StaticCache(list(presents), self.capacity, self.length + 1)

    def fits(self, mask_length: int) -> bool:
        """Whether a step whose attention mask covers `mask_length` slots (past + current)
        keeps every one of them."""
        return mask_length - 1 <= self.capacity

    def step_mask(self, attention_mask: np.ndarray) -> torch.Tensor:
        """The generator's mask `[B, past + 1]`, right-aligned to `[B, capacity + 1]`."""
        batch, length = attention_mask.shape
        mask = np.zeros((batch, self.capacity + 1), dtype=np.int64)
        mask[:, self.capacity + 1 - length:] = attention_mask
        return torch.from_numpy(mask)
