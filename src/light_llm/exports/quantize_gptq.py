"""GPTQ (Frantar et al., 2022): codes that keep a layer's output, not its weights, close.

For a weight W [N, K] read by inputs X, the error that matters is ‖X·(Ŵ − W)ᵀ‖², whose
curvature in each row of W is H = XᵀX (K × K, one per input: exports/quantize_calibration.py
collects it on calibration text). The columns of W are quantized one at a time; each
column's rounding error is spread over the columns not yet quantized, weighted by the
inverse Hessian, so that they compensate it (the optimal brain surgeon update).

The columns go in activation order: largest curvature (H's diagonal) first, so the inputs
that matter most are rounded while every other column can still absorb their error (GPTQ's
`desc_act`). The blocks stay those the export stores (`block_size` consecutive columns along
K, a scale and a zero point each, by the chosen scale rule: quantize_blocks.block_scales),
their scales read from the unquantized weights before any column moves ("static groups"),
so the graph needs no column permutation (no g_idx) and any runtime that reads the blocks
reads these. On SmolLM2-135M at blocks of 128 this order lowers perplexity from 18.46 to
17.67 (asymmetric) and from 20.33 to 18.13 (symmetric); docs/export-contract.md.

Written from the paper's algorithm (Cholesky form of the inverse Hessian, lazy updates
BATCH columns at a time, and within those PART columns at a time) in numpy, the
factorization in torch on one thread: the upper factor of H⁻¹ from one Cholesky
factorization of H in reversed order and one triangular inverse.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from light_llm.exports.quantize_blocks import BlockQuantized, block_scales, blocks_of, from_codes

DAMPING = 0.01  # × the mean of H's diagonal, added to it: keeps the inverse stable
BATCH = 128  # columns quantized before the columns after them are updated by one matrix product
PART = 8  # columns updated one by one before the rest of their batch is updated by one matrix product


def gptq_rows(rows: np.ndarray, hessian: np.ndarray, bits: int, block_size: int, scale_rule: str) -> BlockQuantized:
    """`rows` [N, K] quantized against `hessian` [K, K] (XᵀX of the inputs that read them)."""
    import torch

    count, columns = rows.shape
    padded = blocks_of(rows, block_size).reshape(count, -1)
    width = padded.shape[1]
    top = float((1 << bits) - 1)
    matrix = _damped(hessian, width, padded)
    scales, zeros = block_scales(padded.reshape(count, -1, block_size), bits, scale_rule)
    safe_scales = np.where(scales == 0, 1.0, scales).astype(np.float32)
    order = np.argsort(-np.diagonal(matrix), kind="stable")
    block_of = order // block_size  # the stored block of each column, in the order quantized
    codes = np.empty((width, count), np.uint8)
    errors = np.empty((BATCH, count), np.float32)
    with one_torch_thread():
        inverse = _inverse_factor(matrix[order][:, order])
        weights = np.ascontiguousarray(padded[:, order].T)  # [K, N]: a column a contiguous row, updated as columns are quantized
        # the matrix products in torch, on these arrays' memory: numpy's BLAS would spin threads
        weights_, inverse_, errors_ = torch.from_numpy(weights), torch.from_numpy(inverse), torch.from_numpy(errors)
        for start in range(0, width, BATCH):
            end = min(start + BATCH, width)
            for part in range(start, end, PART):  # column by column within a part, a matrix product beyond it
                last = min(part + PART, end)
                for column in range(part, last):
                    scale, zero = safe_scales[:, block_of[column]], zeros[:, block_of[column]]
                    weight = weights[column]
                    code = np.clip(np.rint(weight / scale) + zero, 0, top)
                    codes[order[column]] = code
                    error = (weight - (code - zero) * scale) / inverse[column, column]
                    weights[column + 1:last] -= inverse[column, column + 1:last, None] * error[None, :]
                    errors[column - start] = error
                weights_[last:end] -= inverse_[part:last, last:end].T @ errors_[part - start:last - start]
            weights_[end:] -= inverse_[start:end, end:].T @ errors_[:end - start]
    codes = np.ascontiguousarray(codes.T).reshape(count, width // block_size, block_size)
    return from_codes(codes, scales, zeros, bits, block_size, columns, symmetric=scale_rule == "symmetric")


@contextmanager
def one_torch_thread():
    """torch on one thread: on a busy machine, threads that wait by spinning (numpy's BLAS,
    torch's OpenMP) make small factorizations and products several times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _damped(hessian: np.ndarray, width: int, weights: np.ndarray) -> np.ndarray:
    """H padded to `width` with unit columns and damped; columns no input ever reaches are
    zeroed in `weights` (their error costs nothing)."""
    matrix = np.eye(width, dtype=np.float32)
    size = hessian.shape[0]
    matrix[:size, :size] = hessian
    dead = np.diagonal(matrix) == 0
    matrix[dead, dead] = 1.0
    weights[:, dead] = 0.0
    matrix[np.diag_indices(width)] += DAMPING * np.diagonal(matrix).mean()
    return matrix


def _inverse_factor(matrix: np.ndarray) -> np.ndarray:
    """The upper Cholesky factor of `matrix`⁻¹, in float32 as GPTQ's authors compute it."""
    import torch

    # H = J·M·Mᵀ·J (J reverses the order, M lower): H⁻¹ = Uᵀ·U with U = J·M⁻¹·J, upper
    reversed_factor = torch.linalg.cholesky(torch.from_numpy(np.ascontiguousarray(matrix)).flip(0, 1))
    identity = torch.eye(matrix.shape[0], dtype=reversed_factor.dtype)
    return torch.linalg.solve_triangular(reversed_factor, identity, upper=False).flip(0, 1).numpy()
