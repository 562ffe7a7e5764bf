"""The rows being decoded together: one dense KV cache [rows, kv_heads, slots, head_dim]
per layer, its attention mask [rows, slots] and the ids fed so far, every row aligned to
the right. Rows join (their prefill cache is left-padded to the batch's width, or the
batch to theirs) and leave at any step; slots no row attends are dropped, so the width
stays the longest row's length. Positions come from the mask, so padding shifts nothing.
Torch-free: numpy only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
    past: dict[str, np.ndarray]  # name → [B, H, T, D]; empty for graphs without a cache

    @property
    def count(self) -> int:
        return self.ids.shape[0]

    @property
    def width(self) -> int:
        return self.ids.shape[1]

    def lengths(self) -> np.ndarray:
        return self.mask.sum(axis=1)

    def joined(self, other: "Rows") -> "Rows":
        width = max(self.width, other.width)
        return Rows(
            ids=np.concatenate([_left_pad(self.ids, width, 1), _left_pad(other.ids, width, 1)]),
            mask=np.concatenate([_left_pad(self.mask, width, 1), _left_pad(other.mask, width, 1)]),
            past={name: np.concatenate([_left_pad(cache, width, 2), _left_pad(other.past[name], width, 2)])
                  for name, cache in self.past.items()},
        )

    def kept(self, keep: np.ndarray) -> "Rows":
        """The rows where `keep` is True, without the leading slots none of them attends."""
        mask = self.mask[keep]
        attended = mask.any(axis=0)
        start = int(attended.argmax()) if attended.any() else mask.shape[1]
        return Rows(ids=self.ids[keep, start:], mask=mask[:, start:],
                    past={name: cache[keep][:, :, start:] for name, cache in self.past.items()})
