"""The rows being decoded together: one dense KV cache [rows, kv_heads, slots, head_dim]
per layer, its attention mask [rows, slots] and the ids fed so far, every row aligned to
the right. Rows join (their prefill cache is left-padded to the batch's width, or the
batch to theirs) and leave at any step; slots no row attends are dropped, so the width
stays the longest row's length. Positions come from the mask, so padding shifts nothing.

Between joins and leaves the cache stays where the model left it (onnxruntime values of
BoundSession, fed back as the next step's past as they are); only a join or a leave
copies it out into numpy to pad or select rows. Torch-free: numpy (and onnxruntime's
values) only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from light_llm.runtime.session import as_numpy


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
    past: dict  # name → [B, H, T, D] numpy array or OrtValue; empty for graphs without a cache

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
            past={name: np.concatenate([_left_pad(as_numpy(cache), width, 2),
                                        _left_pad(as_numpy(other.past[name]), width, 2)])
                  for name, cache in self.past.items()},
        )

    def kept(self, keep: np.ndarray) -> "Rows":
        """The rows where `keep` is True, without the leading slots none of them attends
        (the same Rows, nothing copied, when every row stays)."""
        if keep.all():
            return self
        mask = self.mask[keep]
        attended = mask.any(axis=0)
        start = int(attended.argmax()) if attended.any() else mask.shape[1]
        rows = np.flatnonzero(keep)
        return Rows(ids=self.ids[rows, start:], mask=mask[:, start:],
                    past={name: as_numpy(cache)[:, :, start:][rows] for name, cache in self.past.items()})
