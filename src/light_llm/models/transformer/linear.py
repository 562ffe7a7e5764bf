"""nn.Linear whose few-row products (KV-cache decoding) use the kernel measured fastest here.

Decoding one token multiplies every weight matrix by a single row. On CPU, torch sends
that to the BLAS matrix-vector routine, which on some machines (oneMKL on AMD EPYC with
AVX2, for one) streams the weights at about half the bandwidth that a batched matmul over
blocks of output rows reaches, while on others (Intel Xeon with AVX-512) that batched
matmul halves decode instead. So the choice is measured, not assumed: the first few-row
call of each weight shape, dtype, row count and thread count times both kernels
(`linear_calibration`) and keeps the faster, for the process. Training on CPU in fp32
goes through `training_matmul` (each product's GEMM library measured the same way);
every other call (prefill, GPU, any export) is the plain `F.linear`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from light_llm.models.transformer import training_matmul
from light_llm.models.transformer.linear_calibration import BLOCKED, chosen_kernel
from light_llm.models.tracing import is_tracing

ROW_BLOCKS = 4  # blocks of output rows, one batched-matmul entry each
MAX_ROWS = 4  # above this many input rows the plain matmul is as fast (measured)


def blocked_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """F.linear as one batched matmul over ROW_BLOCKS blocks of output rows."""
    out_features, in_features = weight.shape
    rows = x.reshape(-1, in_features)  # [M, in]
    blocks = weight.view(ROW_BLOCKS, -1, in_features)  # [n, out/n, in]
    out = torch.bmm(blocks, rows.t().expand(ROW_BLOCKS, -1, -1))  # [n, out/n, M]
    out = out.permute(2, 0, 1).reshape(*x.shape[:-1], out_features)  # [..., out]
    return out if bias is None else out + bias


class Linear(nn.Linear):
    """nn.Linear: the same parameters, state dict and results (up to fp32 summation order)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if training_matmul.applies(x, self.weight):
            return training_matmul.linear(x, self.weight, self.bias)
        if is_tracing() or not self._blocked_applies(x):
            return F.linear(x, self.weight, self.bias)
        rows = x.numel() // self.in_features
        if chosen_kernel(F.linear, blocked_linear, x, self.weight, self.bias, rows) == BLOCKED:
            return blocked_linear(x, self.weight, self.bias)
        return F.linear(x, self.weight, self.bias)

    def _blocked_applies(self, x: torch.Tensor) -> bool:
        return (
            x.device.type == "cpu"
            and 0 < x.numel() <= MAX_ROWS * self.in_features
            and self.out_features % ROW_BLOCKS == 0
            and self.weight.is_contiguous()
            and x.dtype == self.weight.dtype
        )
