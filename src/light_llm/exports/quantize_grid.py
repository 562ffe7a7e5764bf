"""The grid fit: weights that lie on a GGUF quantization grid keep exactly those codes.

A model imported from a GGUF (import_gguf.py) is an fp32 folder whose matrices were
dequantized from llama.cpp's blocks of 32 weights: Q8_0 (value = d·q, q in -127..127),
Q4_0 (value = d·(q - 8), q in 0..15) and Q4_1 (value = d·q + m, q in 0..15), d and m
float16. llama.cpp's quantizers put a block's extremes on known codes (Q8_0: the largest
magnitude on ±127; Q4_0: the value of largest magnitude on code 0; Q4_1: the minimum on
code 0, the maximum on code 15), so each block's d and m can be read back from its values
and every value checked against them. A matrix whose every block checks out (to fp32
rounding) is written with those codes, losslessly:

- Q8_0 → 8 bits, the runtime's default zero point 128;
- Q4_0 → 4 bits, the default zero point 8;
- Q4_1 → 4 bits with a zero point round(-m/d) per block and the rest of m as an offset
  (BlockQuantized.offsets): onnxruntime's CPU MatMulNBits takes float zero points only
  through a slow path that dequantizes the whole matrix at every call (docs/export-contract.md).

The fit reads only the fp32 weights, so it works without the GGUF file and falls back to
the chosen method for a matrix that training has moved off its grid. Grids are blocks of
GRID_BLOCK weights: the fit applies when the export's block size is that.
"""

from __future__ import annotations

import numpy as np

from light_llm.exports.quantize_blocks import BlockQuantized, blocks_of, from_values

GRID_BLOCK = 32
GRIDS = ("q8_0", "q4_0", "q4_1")
SAMPLE_ROWS = 8  # rows tried first, before a whole matrix is
ULPS = 4  # fp32 rounding allowed per value, in units of the block's largest magnitude's spacing


def fit_grid(rows: np.ndarray, block_size: int) -> tuple[str, BlockQuantized] | None:
    """(grid name, its exact codes) of `rows` [N, K] where every block lies on one of GRIDS,
    else None."""
    if block_size != GRID_BLOCK or rows.shape[1] % GRID_BLOCK:
        return None
    values = blocks_of(rows, GRID_BLOCK)
    for name, fit in (("q8_0", _q8_0), ("q4_0", _q4_0), ("q4_1", _q4_1)):
        if not _fits(fit, values[:SAMPLE_ROWS]):  # most matrices are on no grid, or on one other
            continue
        weight = fit(values, rows.shape[1])
        if weight is not None and _exact(values, weight):
            return name, weight
    return None


def _fits(fit, values: np.ndarray) -> bool:
    weight = fit(values, values.shape[1] * GRID_BLOCK)
    return weight is not None and _exact(values, weight)


def _half(values: np.ndarray) -> np.ndarray:
    return values.astype(np.float16).astype(np.float32)


def _extreme(values: np.ndarray) -> np.ndarray:
    index = np.abs(values).argmax(axis=2)[:, :, None]
    return np.take_along_axis(values, index, axis=2)[:, :, 0]


def _q8_0(values: np.ndarray, columns: int) -> BlockQuantized:
    scales = _half(np.abs(values).max(axis=2) / 127)
    zero = np.full(scales.shape, 128.0, np.float32)
    return from_values(values, scales, zero, 8, GRID_BLOCK, columns, symmetric=True)


def _q4_0(values: np.ndarray, columns: int) -> BlockQuantized:
    scales = _half(_extreme(values) / -8)
    zero = np.full(scales.shape, 8.0, np.float32)
    return from_values(values, scales, zero, 4, GRID_BLOCK, columns, symmetric=True)


def _q4_1(values: np.ndarray, columns: int) -> BlockQuantized | None:
    low, high = values.min(axis=2), values.max(axis=2)
    if not np.array_equal(_half(low), low):
        return None  # a Q4_1 block's minimum is its float16 m
    scales = _half((high - low) / 15)
    safe = np.where(scales == 0, 1.0, scales)
    zero = np.clip(np.rint(-low / safe), 0, 15).astype(np.float32)
    offsets = (low + zero * scales).astype(np.float32)  # m = offset - zero·d
    return from_values(values, scales, zero, 4, GRID_BLOCK, columns, symmetric=False, offsets=offsets)


def _exact(values: np.ndarray, weight: BlockQuantized) -> bool:
    """Every value within ULPS fp32 spacings (of its block's largest magnitude) of its code's."""
    decoded = weight.dequantized().reshape(values.shape)
    spacing = np.spacing(np.abs(values).max(axis=2, keepdims=True).astype(np.float32))
    return bool(np.all(np.abs(decoded - values) <= ULPS * spacing))
