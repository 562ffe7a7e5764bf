"""Blockwise weight quantization in onnxruntime's MatMulNBits / GatherBlockQuantized layout.

A matrix is quantized row by row ([N, K]: one row per output feature of a MatMul, one row
per token of an embedding), in blocks of `block_size` along K (K padded with zeros to
whole blocks). Each block has a float scale and, when asymmetric, a zero point; without
zero points the runtime assumes the middle of the range (8 for 4 bits, 128 for 8 bits).
Values are unsigned, two 4-bit values per byte, low nibble first.

Two methods (`METHODS`):
- "symmetric": signed scales (the block's value of largest magnitude maps to the lowest
  code, using all 2^bits levels), then searched for the least squared error per block: on
  the demo model this lowers the mean logit error of int4 by about a fifth against the
  plain scale;
- "asymmetric": a scale and an integer zero point per block (the block's range, not its
  largest magnitude, spread over the codes), its clipping of the range searched for the
  least squared error per block.

A block may also carry an `offset` (exports/quantize_grid.py: a GGUF Q4_1 block's minimum,
which no integer zero point holds): value = (code - zero point) × scale + offset. The graph
adds it as the input's block sums times the offsets (exports/quantize.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BlockQuantized:
    data: np.ndarray  # uint8 [N, blocks, block_size * bits / 8]
    scales: np.ndarray  # float32 [N, blocks]
    zero_points: np.ndarray | None  # uint8 [N, ceil(blocks * bits / 8)]; None: symmetric
    bits: int
    block_size: int
    columns: int  # K before padding
    offsets: np.ndarray | None = None  # float32 [N, blocks] added to every value of a block

    @property
    def rows(self) -> int:
        return self.data.shape[0]

    @property
    def blocks(self) -> int:
        return self.data.shape[1]

    def dequantized(self) -> np.ndarray:
        """[N, K] float32: what the runtime computes with (for tests and error reports)."""
        codes = _unpack(self.data.reshape(self.rows, -1), self.bits).reshape(self.rows, self.blocks, -1)
        if self.zero_points is None:
            zero = np.full((self.rows, self.blocks, 1), 1 << (self.bits - 1), dtype=np.float32)
        else:
            zero = _unpack(self.zero_points, self.bits)[:, : self.blocks, None].astype(np.float32)
        values = (codes.astype(np.float32) - zero) * self.scales[:, :, None]
        if self.offsets is not None:
            values = values + self.offsets[:, :, None]
        return values.reshape(self.rows, -1)[:, : self.columns]


METHODS = ("symmetric", "asymmetric")


def quantize_rows(rows: np.ndarray, bits: int, block_size: int, method: str) -> BlockQuantized:
    """rows: [N, K] float → blockwise codes along K, by `method` (METHODS)."""
    if bits not in (4, 8):
        raise ValueError(f"bits={bits}: allowed: 4, 8")
    if method not in METHODS:
        raise ValueError(f"method {method!r}: allowed: {', '.join(METHODS)}")
    values = blocks_of(rows, block_size)
    scales, zero = block_scales(values, bits, method)
    return from_values(values, scales, zero, bits, block_size, rows.shape[1], symmetric=method == "symmetric")


def blocks_of(rows: np.ndarray, block_size: int) -> np.ndarray:
    """[N, K] → [N, blocks, block_size] float32, K padded with zeros to whole blocks."""
    count, columns = rows.shape
    blocks = -(-columns // block_size)
    padded = np.zeros((count, blocks * block_size), dtype=np.float32)
    padded[:, :columns] = rows
    return padded.reshape(count, blocks, block_size)


def from_values(values: np.ndarray, scales: np.ndarray, zero: np.ndarray, bits: int, block_size: int,
                columns: int, symmetric: bool, offsets: np.ndarray | None = None) -> BlockQuantized:
    """The codes of `values` [N, blocks, block_size] (less `offsets`) rounded with `scales`
    and integer zero points `zero` [N, blocks]; `symmetric`: the zero points are the
    runtime's default (2^(bits-1)) and are not stored."""
    shifted = values if offsets is None else values - offsets[:, :, None]
    codes = round_to_codes(shifted, scales, zero, bits)
    return from_codes(codes, scales, zero, bits, block_size, columns, symmetric, offsets)


def round_to_codes(values: np.ndarray, scales: np.ndarray, zero: np.ndarray, bits: int) -> np.ndarray:
    """uint8 codes of `values` [N, blocks, size] with `scales` and zero points [N, blocks]."""
    safe = np.where(scales == 0, 1.0, scales).astype(np.float32)
    return np.clip(np.rint(values / safe[:, :, None]) + zero[:, :, None], 0, (1 << bits) - 1).astype(np.uint8)


def from_codes(codes: np.ndarray, scales: np.ndarray, zero: np.ndarray, bits: int, block_size: int, columns: int,
               symmetric: bool, offsets: np.ndarray | None = None) -> BlockQuantized:
    """A BlockQuantized of uint8 `codes` [N, blocks, block_size] (see `from_values`)."""
    count, blocks, _ = codes.shape
    data = _pack(codes.reshape(count, -1), bits).reshape(count, blocks, -1)
    zero_points = None if symmetric else _pack(zero.astype(np.uint8), bits)
    return BlockQuantized(data, scales.astype(np.float32), zero_points, bits, block_size, columns,
                          None if offsets is None else offsets.astype(np.float32))


def block_scales(values: np.ndarray, bits: int, method: str) -> tuple[np.ndarray, np.ndarray]:
    """(scales, integer zero points) [N, blocks] of `values` [N, blocks, size] by `method`."""
    if method == "symmetric":
        return _signed_scales(values, bits), np.full(values.shape[:2], float(1 << (bits - 1)), np.float32)
    return _ranged_scales(values, bits)


CHUNK_ROWS = 4096  # rows quantized together: the search's temporaries stay a few MB, not several matrices


def quantize_rows_in_chunks(rows: np.ndarray, bits: int, block_size: int, method: str,
                            chunk: int = CHUNK_ROWS) -> BlockQuantized:
    """`quantize_rows`, `chunk` rows at a time (rows are quantized independently, so the
    result is the same); the scale search holds several float copies of what it quantizes,
    which for a whole embedding would be several times its size."""
    return concatenated([quantize_rows(rows[start:start + chunk], bits, block_size, method)
                         for start in range(0, rows.shape[0], chunk)])


def concatenated(parts: list[BlockQuantized]) -> BlockQuantized:
    """The rows of `parts` (quantized alike) as one BlockQuantized."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]

    def joined(field: str) -> np.ndarray | None:
        return None if getattr(first, field) is None else np.concatenate([getattr(p, field) for p in parts])

    return BlockQuantized(joined("data"), joined("scales"), joined("zero_points"), first.bits, first.block_size,
                          first.columns, joined("offsets"))


def nibbles(weight: BlockQuantized) -> tuple[BlockQuantized, BlockQuantized]:
    """An 8-bit `weight` as two 4-bit ones whose sum it is: code c and zero point z split
    into high and low nibbles (c = 16·c_high + c_low), (c - z)·s = (c_high - z_high)·16s +
    (c_low - z_low)·s, exactly; for MatMulNBits with fp32 activations, which onnxruntime's
    CPU kernels compute fast at 4 bits only."""
    if weight.bits != 8 or weight.offsets is not None:
        raise ValueError(f"nibbles of an 8-bit weight without offsets, not {weight.bits} bits")
    codes = _unpack(weight.data.reshape(weight.rows, -1), 8).reshape(weight.data.shape)
    zero = (np.full(weight.scales.shape, 128, dtype=np.uint8) if weight.zero_points is None
            else weight.zero_points[:, : weight.blocks])
    scales = weight.scales
    return tuple(from_codes(part(codes), scale, part(zero), 4, weight.block_size, weight.columns, symmetric=False)
                 for part, scale in ((lambda c: c >> 4, scales * 16), (lambda c: c & 15, scales)))


SCALE_SHRINKS = (1.0, 1.1, 1.05, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7)  # candidate scalings of the plain scale


def _signed_scales(values: np.ndarray, bits: int) -> np.ndarray:
    """Per block, the scale of least squared error among: the block's value of largest
    magnitude / -2^(bits-1) (that value becomes code 0 exactly), that scale times each of
    SCALE_SHRINKS (below 1 the extreme clips and every other value rounds finer), and the
    least-squares scale of the best one's codes. 8 bits keep the plain scale."""
    index = np.abs(values).argmax(axis=2)[:, :, None]
    extreme = np.take_along_axis(values, index, axis=2)[:, :, 0]
    base = (extreme / -float(1 << (bits - 1))).astype(np.float32)
    base[base == 0] = 1.0
    if bits == 8:
        return base
    best, best_error = base, None
    for shrink in SCALE_SHRINKS:
        candidate = base * shrink
        error, _ = _rounding(values, candidate, bits)
        if best_error is None:
            best, best_error = candidate, error
        else:
            best, best_error = np.where(error < best_error, candidate, best), np.minimum(error, best_error)
    _, codes = _rounding(values, best, bits)  # then the least-squares scale for those codes
    fitted = (codes * values).sum(axis=2) / np.maximum(np.square(codes).sum(axis=2), 1.0)
    fitted = np.where(fitted == 0, best, fitted)
    error, _ = _rounding(values, fitted, bits)
    return np.where(error < best_error, fitted, best).astype(np.float32)


CLIPS = (1.0, 0.97, 0.94, 0.91, 0.88, 0.85, 0.82, 0.79)  # candidate shrinks of a block's range toward zero


def _ranged_scales(values: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(scales, integer zero points) [N, blocks]: per block, the range [min, max] (0
    included, so that zero stays exact) shrunk toward zero by each of CLIPS, of least
    squared error; the range's values outside clip. 8 bits keep the whole range."""
    top = float((1 << bits) - 1)
    low, high = np.minimum(values.min(axis=2), 0.0), np.maximum(values.max(axis=2), 0.0)
    best_scales = best_zero = best_error = None
    for clip in CLIPS if bits == 4 else CLIPS[:1]:
        scales = ((high - low) * clip / top).astype(np.float32)
        scales[scales == 0] = 1.0
        zero = np.clip(np.rint(-low * clip / scales), 0, top).astype(np.float32)
        codes = np.clip(np.rint(values / scales[:, :, None]) + zero[:, :, None], 0, top)
        error = np.square((codes - zero[:, :, None]) * scales[:, :, None] - values).sum(axis=2)
        if best_error is None:
            best_scales, best_zero, best_error = scales, zero, error
        else:
            better = error < best_error
            best_scales, best_zero = np.where(better, scales, best_scales), np.where(better, zero, best_zero)
            best_error = np.minimum(error, best_error)
    return best_scales, best_zero


def _rounding(values: np.ndarray, scales: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(squared error per block, centred codes) of rounding `values` with `scales`."""
    zero, top = float(1 << (bits - 1)), float((1 << bits) - 1)
    codes = np.clip(np.rint(values / scales[:, :, None]) + zero, 0, top) - zero
    return np.square(codes * scales[:, :, None] - values).sum(axis=2), codes


def _pack(codes: np.ndarray, bits: int) -> np.ndarray:
    """[N, M] codes → [N, ceil(M * bits / 8)] bytes."""
    if bits == 8:
        return np.ascontiguousarray(codes, dtype=np.uint8)
    if codes.shape[1] % 2:
        codes = np.concatenate([codes, np.zeros((codes.shape[0], 1), dtype=np.uint8)], axis=1)
    return (codes[:, 0::2] | (codes[:, 1::2] << 4)).astype(np.uint8)


def _unpack(packed: np.ndarray, bits: int) -> np.ndarray:
    if bits == 8:
        return packed
    codes = np.empty((packed.shape[0], packed.shape[1] * 2), dtype=np.uint8)
    codes[:, 0::2], codes[:, 1::2] = packed & 0x0F, packed >> 4
    return codes
