"""KV caches that the graph writes in place: preallocated buffers bound as both the past
input and the present output of every decode step, so a step copies only the new keys
and values, never the past. Used by light_llm.runtime's decode loop and the serve engine.

Only a graph whose every attention layer is com.microsoft GroupQueryAttention (the fused
export; light_llm.json → `lowering`) writes its present into its past's buffer; any
other graph (portable, traced, partly standard ops) returns a new present each step and
is decoded through plain IO binding (session.BoundSession). A buffer has room for
KV_ROOM more steps; when full it is copied once into a larger one, up to max_seq_len.
Torch-free: numpy and onnxruntime only.
"""

from __future__ import annotations

import numpy as np

KV_ROOM = 256  # steps a buffer holds beyond the slots in use before it is copied into a larger one
PAST, PRESENT = "past_key_values.", "present."


def shares_kv_buffer(lowering: dict | None) -> bool:
    """Whether the graph writes each present into its past's buffer, from light_llm.json's
    `lowering`: the fused form with GroupQueryAttention in every layer (what
    onnxruntime-genai's past_present_share_buffer relies on too); a standard-ops layer
    returns a new tensor."""
    lowering = lowering or {}
    layers = lowering.get("layers") or []
    return lowering.get("form") == "fused" and bool(layers) and all(
        layer.get("lowering") == "fused" for layer in layers)


def buffer_slots(width: int, max_seq_len: int) -> int:
    """Slots of a buffer for a cache `width` slots wide: room for KV_ROOM more steps."""
    return min(max_seq_len, width + KV_ROOM)


def is_full(width: int, slots: int) -> bool:
    """No slot left for the next step's keys and values (they go to slot `width`)."""
    return width >= slots


def stacked_buffer(caches: list[np.ndarray], width: int, slots: int) -> np.ndarray:
    """One buffer [rows of every cache, kv_heads, slots, head_dim]: each cache's slots
    right-aligned to end at slot `width` - 1 (left padding), zeros elsewhere."""
    heads, dim = caches[0].shape[1], caches[0].shape[3]
    buffer = np.zeros((sum(len(cache) for cache in caches), heads, slots, dim), dtype=caches[0].dtype)
    row = 0
    for cache in caches:
        buffer[row:row + len(cache), :, width - cache.shape[2]:width] = cache
        row += len(cache)
    return buffer


def kv_buffers(pasts: dict[str, np.ndarray]) -> dict:
    """OrtValues over numpy KV buffers `[batch, kv_heads, slots, head_dim]` (no copy):
    bind one as a past input and, through BoundSession's `into`, as its present output, and
    a GroupQueryAttention graph writes the step's keys and values into the buffer in place
    (at slot attention_mask width - 1; the slots before it are the past)."""
    from onnxruntime import OrtValue

    return {name: OrtValue.ortvalue_from_numpy(buffer) for name, buffer in pasts.items()}


def presents_into(pasts: dict) -> dict:
    """BoundSession's `into` for past feeds `pasts`: each present written into its past."""
    return {name.replace(PAST, PRESENT, 1): value for name, value in pasts.items()}


class InPlaceCache:
    """The KV cache of one batch decoded in place: a numpy buffer per past name, its first
    `width` slots in use, and the OrtValues over them that every step binds."""

    def __init__(self, buffers: dict[str, np.ndarray]):
        self.buffers = buffers
        self.values = kv_buffers(buffers)

    @property
    def slots(self) -> int:
        return next(iter(self.buffers.values())).shape[2]

    @classmethod
    def of(cls, caches: dict[str, np.ndarray], max_seq_len: int) -> "InPlaceCache":
        """Buffers holding `caches` (past name → [B, H, width, D], e.g. a prefill's presents)."""
        width = next(iter(caches.values())).shape[2]
        slots = buffer_slots(width, max_seq_len)
        return cls({name: stacked_buffer([cache], width, slots) for name, cache in caches.items()})

    def with_room(self, width: int, max_seq_len: int) -> "InPlaceCache":
        """This cache while a slot is free after the `width` in use, else its used slots
        copied into larger buffers."""
        if not is_full(width, self.slots):
            return self
        return InPlaceCache.of({name: buffer[:, :, :width] for name, buffer in self.buffers.items()}, max_seq_len)

    def step_bindings(self) -> tuple[dict, dict]:
        """(past feeds, BoundSession's `into`): the same OrtValues as input and output."""
        return self.values, presents_into(self.values)
