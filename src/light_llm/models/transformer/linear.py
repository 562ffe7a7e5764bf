"""nn.Linear whose few-row products (KV-cache decoding) use the kernel measured fastest here.

Decoding one token multiplies every weight matrix by a single row. On CPU, torch sends
that to the BLAS matrix-vector routine, which on some machines (oneMKL on AMD EPYC with
AVX2, for one) streams the weights at about half the bandwidth that a batched matmul over
blocks of output rows reaches, while on others (Intel Xeon with AVX-512) that batched
matmul halves decode instead. So the choice is measured, not assumed: the first few-row
call of each weight shape, dtype, row count and thread count times both kernels
(`linear_calibration`) and keeps the faster, for the process, in eager and in
torch.compile'd decode steps alike (traced inline when calibrated before tracing, else a
custom op Inductor leaves alone). Training on CPU in fp32 goes through `training_matmul`
(each product's GEMM library measured the same way); every other call (prefill, GPU, any
export) is the plain `F.linear`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from light_llm.models.tracing import is_exporting
from light_llm.models.transformer import training_matmul
from light_llm.models.transformer.linear_calibration import BLOCKED, PLAIN, chosen_kernel, known_kernel

ROW_BLOCKS = 4  # blocks of output rows, one batched-matmul entry each
MAX_ROWS = 4  # above this many input rows the plain matmul is as fast (measured)


@torch.compiler.assume_constant_result
def _threads() -> int:
    """torch's thread count, read once while tracing (Dynamo cannot trace the call itself)."""
    return torch.get_num_threads()


def blocked_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """F.linear as one batched matmul over ROW_BLOCKS blocks of output rows."""
    out_features, in_features = weight.shape
    rows = x.reshape(-1, in_features)  # [M, in]
    blocks = weight.view(ROW_BLOCKS, -1, in_features)  # [n, out/n, in]
    out = torch.bmm(blocks, rows.t().expand(ROW_BLOCKS, -1, -1))  # [n, out/n, M]
    out = out.permute(2, 0, 1).reshape(*x.shape[:-1], out_features)  # [..., out]
    return out if bias is None else out + bias


def calibrated_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """F.linear through the kernel calibrated for this shape (calibrating on first use)."""
    rows = x.numel() // weight.shape[1]
    if chosen_kernel(F.linear, blocked_linear, x, weight, bias, rows) == BLOCKED:
        return blocked_linear(x, weight, bias)
    return F.linear(x, weight, bias)


@torch.library.custom_op("light_llm::few_row_linear", mutates_args=())
def few_row_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """calibrated_linear as one op torch.compile leaves alone: the choice is made when the
    compiled graph runs, never while tracing."""
    return calibrated_linear(x, weight, bias)


@few_row_linear.register_fake
def _(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return x.new_empty(*x.shape[:-1], weight.shape[0])


class Linear(nn.Linear):
    """nn.Linear: the same parameters, state dict and results (up to fp32 summation order)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if training_matmul.applies(x, self.weight):
            return training_matmul.linear(x, self.weight, self.bias)
        if is_exporting() or not self._blocked_applies(x):
            return F.linear(x, self.weight, self.bias)
        if torch.compiler.is_compiling():
            return self._compiled_linear(x)
        return calibrated_linear(x, self.weight, self.bias)

    def _compiled_linear(self, x: torch.Tensor) -> torch.Tensor:
        """A kernel calibrated before tracing is traced inline (Inductor calls its bmm or mm
        directly, without the custom op's Python dispatch per call); otherwise the custom op."""
        rows = x.numel() // self.in_features
        if not isinstance(rows, int):  # a dynamic batch dimension: no single choice to inline
            return few_row_linear(x, self.weight, self.bias)
        kernel = known_kernel(self.weight, self.bias, rows, _threads())
        if kernel == BLOCKED:
            return blocked_linear(x, self.weight, self.bias)
        if kernel == PLAIN:
            return F.linear(x, self.weight, self.bias)
        return few_row_linear(x, self.weight, self.bias)

    def _blocked_applies(self, x: torch.Tensor) -> bool:
        if torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad):
            return False  # the custom op has no backward: gradients go through F.linear
        return (
            x.device.type == "cpu"
            and 0 < x.numel() <= MAX_ROWS * self.in_features
            and self.out_features % ROW_BLOCKS == 0
            and self.weight.is_contiguous()
            and x.dtype == self.weight.dtype
        )
