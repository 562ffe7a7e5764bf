"""The rows being decoded together: one dense KV cache [rows, kv_heads, slots, head_dim]
per layer, its attention mask [rows, slots] and the ids fed so far, every row aligned to
the right. Rows join (their prefill cache is left-padded to the batch's width, or the
batch to theirs) and leave at any step; slots no row attends are dropped, so the width
stays the longest row's length. Positions come from the mask, so padding shifts nothing;
a graph that rotates keys by slot (runtime/slot_rotation.py) has the keys of a row that
moves turned with it (`rotation`).

Two ways to hold the cache between steps, neither copying it on a step where no row
joins or leaves:
- `capacity` set (graphs whose attention writes in place: GroupQueryAttention): one
  buffer of `capacity` slots per layer, the first `width` of them in use; the graph
  writes each step's keys and values into it (runtime/kv_buffers.py);
- `capacity` None: the cache is exactly `width` slots wide, the presents the model
  returned (onnxruntime values stay in onnxruntime; the next step reads them as they are).
Only a join or a leave copies the cache, once. Torch-free: numpy (and onnxruntime's
values) only."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from light_llm.runtime.kv_buffers import kv_buffers, stacked_buffer
from light_llm.runtime.session import as_numpy
from light_llm.runtime.slot_rotation import SlotRotation


def _left_pad(array: np.ndarray, width: int, axis: int) -> np.ndarray:
    missing = width - array.shape[axis]
    if missing <= 0:
        return array
    pad = [(0, 0)] * array.ndim
    pad[axis] = (missing, 0)
    return np.pad(array, pad)


@dataclass
class Rows:
    ids: np.ndarray  # [B, T] int64: every token fed (padding where the mask is 0)
    mask: np.ndarray  # [B, T] int64
    past: dict  # name → [B, H, T or capacity, D] numpy array or OrtValue; empty without a cache
    capacity: int | None = None  # slots of each buffer, None: the cache is `width` slots wide
    _bound: dict | None = field(default=None, repr=False)  # OrtValues over the buffers, made once

    @property
    def count(self) -> int:
        return self.ids.shape[0]

    @property
    def width(self) -> int:
        return self.ids.shape[1]

    def lengths(self) -> np.ndarray:
        return self.mask.sum(axis=1)

    def buffers(self) -> dict:
        """OrtValues over the cache buffers (capacity set): each step's past and present."""
        if self._bound is None:
            self._bound = kv_buffers(self.past)
        return self._bound

    def stepped(self, ids: np.ndarray, mask: np.ndarray, past: dict | None = None) -> "Rows":
        """The same rows one step on: `past` is the step's presents (None: written in place)."""
        if past is None:
            return Rows(ids, mask, self.past, self.capacity, self._bound)
        return Rows(ids, mask, past)

    @staticmethod
    def stacked(parts: list["Rows"], capacity: int | None, rotation: SlotRotation | None = None) -> "Rows":
        """The rows of every part, one after the other, left-padded to the widest."""
        width = max(part.width for part in parts)
        ids = np.concatenate([_left_pad(part.ids, width, 1) for part in parts])
        mask = np.concatenate([_left_pad(part.mask, width, 1) for part in parts])
        names = parts[0].past.keys()

        def moved(name: str) -> list[np.ndarray]:
            return [_moved(name, _used(part, name), width - part.width, rotation) for part in parts]

        if capacity is None:
            past = {name: np.concatenate([_left_pad(cache, width, 2) for cache in moved(name)]) for name in names}
        else:
            past = {name: stacked_buffer(moved(name), width, capacity) for name in names}
        return Rows(ids=ids, mask=mask, past=past, capacity=capacity)

    def joined(self, other: "Rows", rotation: SlotRotation | None = None) -> "Rows":
        return Rows.stacked([self, other], self.capacity, rotation)

    def kept(self, keep: np.ndarray, rotation: SlotRotation | None = None) -> "Rows":
        """The rows where `keep` is True, without the leading slots none of them attends
        (the same Rows, nothing copied, when every row stays)."""
        if keep.all():
            return self
        mask = self.mask[keep]
        attended = mask.any(axis=0)
        start = int(attended.argmax()) if attended.any() else mask.shape[1]
        rows = np.flatnonzero(keep)
        past = {name: _moved(name, _used(self, name)[:, :, start:][rows], -start, rotation) for name in self.past}
        kept = Rows(ids=self.ids[rows, start:], mask=mask[:, start:], past=past)
        return Rows.stacked([kept], self.capacity) if self.capacity is not None else kept


def _used(rows: Rows, name: str) -> np.ndarray:
    """The `width` slots in use of one cache (a view where it is numpy already)."""
    return as_numpy(rows.past[name])[:, :, :rows.width]


def _moved(name: str, cache: np.ndarray, shift: int, rotation: SlotRotation | None) -> np.ndarray:
    """The cache `name` moved `shift` slots (> 0: later): keys turned with it where the
    graph rotates them by slot."""
    if rotation is None or shift == 0:
        return cache
    return rotation.moved({name: cache}, np.full(len(cache), shift))[name]
