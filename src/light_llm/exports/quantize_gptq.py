"""GPTQ (Frantar et al., 2022): codes that keep a layer's output, not its weights, close.

For a weight W [N, K] read by inputs X, the error that matters is ‖X·(Ŵ − W)ᵀ‖², whose
curvature in each row of W is H = XᵀX (K × K, one per input: exports/quantize_calibration.py
collects it on calibration text). The columns of W are quantized in order; each column's
rounding error is spread over the columns not yet quantized, weighted by the inverse
Hessian, so that they compensate it (the optimal brain surgeon update). Blocks are
quantized as the export stores them (`block_size` columns along K, a scale and a zero point
each, by the chosen scale rule: quantize_blocks.block_scales), each block's scale read from
its columns as the earlier blocks' errors have left them.

Written from the paper's algorithm (Cholesky form of the inverse Hessian, lazy updates a
block at a time, and within a block PART columns at a time) in numpy, the factorization in
torch on one thread: the upper factor of H⁻¹ from one Cholesky factorization of H in reversed
order and one triangular inverse.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from light_llm.exports.quantize_blocks import BlockQuantized, block_scales, blocks_of, from_codes

DAMPING = 0.01  # × the mean of H's diagonal, added to it: keeps the inverse stable
PART = 8  # columns updated one by one before the rest of their block is updated by one matrix product


def gptq_rows(rows: np.ndarray, hessian: np.ndarray, bits: int, block_size: int, scale_rule: str) -> BlockQuantized:
    """`rows` [N, K] quantized against `hessian` [K, K] (XᵀX of the inputs that read them)."""
    import torch

    count, columns = rows.shape
    padded = blocks_of(rows, block_size).reshape(count, -1)
    width = padded.shape[1]
    top = float((1 << bits) - 1)
    codes = np.empty((width, count), np.uint8)
    scales = np.empty((count, width // block_size), np.float32)
    zeros = np.empty_like(scales)
    errors = np.empty((block_size, count), np.float32)
    with one_torch_thread():
        inverse = _inverse_hessian_factor(hessian, width, padded)
        weights = np.ascontiguousarray(padded.T)  # [K, N]: a column a contiguous row, updated as columns are quantized
        # the matrix products in torch, on these arrays' memory: numpy's BLAS would spin threads
        weights_, inverse_, errors_ = torch.from_numpy(weights), torch.from_numpy(inverse), torch.from_numpy(errors)
        for block, start in enumerate(range(0, width, block_size)):
            end = start + block_size
            block_scale, block_zero = block_scales(weights[start:end].T[:, None, :], bits, scale_rule)
            scales[:, block], zeros[:, block] = block_scale[:, 0], block_zero[:, 0]
            scale, zero = np.where(scales[:, block] == 0, 1.0, scales[:, block]).astype(np.float32), zeros[:, block]
            for part in range(start, end, PART):  # column by column within a part, a matrix product beyond it
                last = min(part + PART, end)
                for column in range(part, last):
                    weight = weights[column]
                    code = np.clip(np.rint(weight / scale) + zero, 0, top)
                    codes[column] = code
                    error = (weight - (code - zero) * scale) / inverse[column, column]
                    weights[column + 1:last] -= inverse[column, column + 1:last, None] * error[None, :]
                    errors[column - start] = error
                weights_[last:end] -= inverse_[part:last, last:end].T @ errors_[part - start:last - start]
            weights_[end:] -= inverse_[start:end, end:].T @ errors_
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


def _inverse_hessian_factor(hessian: np.ndarray, width: int, weights: np.ndarray) -> np.ndarray:
    """The upper Cholesky factor of H⁻¹ (H damped, padded to `width` with unit columns), in
    float32 as GPTQ's authors compute it; columns no input ever reaches are zeroed in
    `weights` (their error costs nothing)."""
    import torch

    matrix = np.eye(width, dtype=np.float32)
    size = hessian.shape[0]
    matrix[:size, :size] = hessian
    dead = np.diagonal(matrix) == 0
    matrix[dead, dead] = 1.0
    weights[:, dead] = 0.0
    matrix[np.diag_indices(width)] += DAMPING * np.diagonal(matrix).mean()
    # H = J·M·Mᵀ·J (J reverses the order, M lower): H⁻¹ = Uᵀ·U with U = J·M⁻¹·J, upper
    reversed_factor = torch.linalg.cholesky(torch.from_numpy(matrix).flip(0, 1))
    identity = torch.eye(width, dtype=reversed_factor.dtype)
    return torch.linalg.solve_triangular(reversed_factor, identity, upper=False).flip(0, 1).numpy()
