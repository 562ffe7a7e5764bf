"""The model folder's weights, read one tensor at a time (memory-mapped safetensors),
laid out for MatMul: a Linear's `[out, in]` weight becomes `[in, out]`."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class Weights:
    def __init__(self, path: Path):
        from safetensors import safe_open

        self._file = safe_open(str(path), framework="np")
        self._names = set(self._file.keys())

    def has(self, name: str) -> bool:
        return name in self._names

    def tensor(self, name: str) -> np.ndarray:
        return np.asarray(self._file.get_tensor(name), dtype=np.float32)

    def matmul(self, *linears: str) -> np.ndarray:
        """The weights of `linears` (same input) side by side: `[in, sum(out)]`."""
        return np.concatenate([self.tensor(f"{name}.weight").T for name in linears], axis=1)

    def bias(self, *linears: str) -> np.ndarray | None:
        """The biases of `linears` concatenated, or None where the Linears have none."""
        if not self.has(f"{linears[0]}.bias"):
            return None
        return np.concatenate([self.tensor(f"{name}.bias") for name in linears])
