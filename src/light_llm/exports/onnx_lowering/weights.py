"""The model folder's weights, read one tensor at a time (exports/weights_file.py: plain
reads, so the writer holds one tensor, not a mapped file), laid out for MatMul: a
Linear's `[out, in]` weight becomes `[in, out]`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from light_llm.exports.weights_file import SafetensorsFile


class Weights:
    def __init__(self, path: Path):
        self._file = SafetensorsFile(path)
        self._names = set(self._file.names())

    def has(self, name: str) -> bool:
        return name in self._names

    def tensor(self, name: str) -> np.ndarray:
        return self._file.read_float32(name)

    def matmul(self, *linears: str) -> np.ndarray:
        """The weights of `linears` (same input) side by side: `[in, sum(out)]`."""
        return np.concatenate([self.tensor(f"{name}.weight").T for name in linears], axis=1)

    def bias(self, *linears: str) -> np.ndarray | None:
        """The biases of `linears` concatenated, or None where the Linears have none."""
        if not self.has(f"{linears[0]}.bias"):
            return None
        return np.concatenate([self.tensor(f"{name}.bias") for name in linears])
