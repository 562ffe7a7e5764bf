"""nn.Linear with a faster CPU path for the few-row products of KV-cache decoding.

Decoding one token multiplies every weight matrix by a single row. On CPU, torch sends
that to the BLAS matrix-vector routine, which on some machines (oneMKL on AMD EPYC with
AVX2, for one) streams the weights at about half the memory bandwidth that a batched
matmul over blocks of output rows reaches, with one thread as with several. For a few
rows this module computes the same dot products as that batched matmul; every other
call (training, prefill, GPU, any tracing or export) is the plain `F.linear`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from light_llm.models.tracing import is_tracing

ROW_BLOCKS = 4  # blocks of output rows, one batched-matmul entry each
MAX_ROWS = 4  # above this many input rows the plain matmul is as fast (measured)


class Linear(nn.Linear):
    """nn.Linear: the same parameters, state dict and results (up to fp32 summation order)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if is_tracing() or not self._blocked_is_faster(x):
            return F.linear(x, self.weight, self.bias)
        rows = x.reshape(-1, self.in_features)  # [M, in]
        blocks = self.weight.view(ROW_BLOCKS, -1, self.in_features)  # [n, out/n, in]
        out = torch.bmm(blocks, rows.t().expand(ROW_BLOCKS, -1, -1))  # [n, out/n, M]
        out = out.permute(2, 0, 1).reshape(*x.shape[:-1], self.out_features)  # [..., out]
        return out if self.bias is None else out + self.bias

    def _blocked_is_faster(self, x: torch.Tensor) -> bool:
        return (
            x.device.type == "cpu"
            and 0 < x.numel() <= MAX_ROWS * self.in_features
            and self.out_features % ROW_BLOCKS == 0
            and self.weight.is_contiguous()
            and x.dtype == self.weight.dtype
        )
