"""The matrix products of a CPU training step, each through the GEMM library measured
fastest for its shape here: torch's own (`aten`, MKL on x86 builds) or oneDNN.

A training step is ~80% matrix products on a CPU, and the library matters: on a 2-core
AMD EPYC (AVX-512), MKL runs this repository's 25M-model products at 130-200 GFLOP/s and
oneDNN, which uses AVX-512 there, at 200-220 for the forward and input-gradient products,
while MKL stays faster for the weight-gradient ones (both operands transposed). Other CPUs
order them differently, so each product shape is timed once per process, both libraries
alternating, and oneDNN is kept only when clearly faster (`MIN_GAIN`).

Every product of a Linear, forward and backward, is one call of `light_llm::matmul_nt`
(a @ bᵀ), a custom op: eager calls it directly, and torch.compile keeps it as one opaque
kernel (Inductor would otherwise lower it to its own `mm`). Results equal F.linear up to
fp32 summation order; the choice is per process, so two processes may differ in the last
bits (a checkpoint records the choices and `--resume` reuses them, see `choices_state`).
Only fp32 CPU training uses it (`applies`); decode, bf16 autocast, exports and other
devices keep F.linear.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import register_flop_formula

from light_llm.models.tracing import is_exporting
from light_llm.models.transformer.linear_calibration import median_seconds

ATEN = "aten"
ONEDNN = "onednn"
MIN_GAIN = 0.95  # oneDNN must take under 95% of aten's time
MIN_MACS = 1 << 22  # smaller products (under ~50 us) keep aten untimed: nothing to gain, and no choice to vary
ShapeKey = tuple[int, int, int, bool, bool, int]  # rows, inner, columns, a transposed, b transposed, threads

logger = logging.getLogger(__name__)
_ONEDNN_BUILT = torch.backends.mkldnn.is_available()  # read once: torch.compile cannot trace the call


@dataclass(frozen=True)
class LibraryChoice:
    library: str
    aten_us: float
    onednn_us: float

    def describe(self, key: ShapeKey) -> str:
        rows, inner, columns, a_t, b_t, threads = key
        layout = f"{'aᵀ' if a_t else 'a'}·{'b' if b_t else 'bᵀ'}"
        flop = 2 * rows * inner * columns
        return (f"matmul {rows}x{inner}x{columns} ({layout}) threads={threads}: "
                f"aten {self.aten_us:.0f} us ({flop / self.aten_us / 1e3:.0f} GFLOP/s), "
                f"onednn {self.onednn_us:.0f} us ({flop / self.onednn_us / 1e3:.0f} GFLOP/s) -> {self.library}")


_choices: dict[ShapeKey, LibraryChoice] = {}


def applies(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether a Linear call on `x` trains on CPU in fp32, outside any export trace."""
    return (
        torch.is_grad_enabled()
        and weight.requires_grad
        and x.device.type == "cpu"
        and x.dtype == weight.dtype == torch.float32
        and not torch.is_autocast_enabled("cpu")
        and not is_exporting()
        and _ONEDNN_BUILT
    )


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """F.linear, its products through `matmul_nt`. x: [..., in]; weight: [out, in]."""
    out = matmul_nt(x.reshape(-1, x.shape[-1]), weight).view(*x.shape[:-1], weight.shape[0])
    return out if bias is None else out + bias


@torch.library.custom_op("light_llm::matmul_nt", mutates_args=())
def matmul_nt(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ bᵀ. a: [M, K]; b: [N, K] (either may be a transposed view) → [M, N]."""
    if _library(a, b) == ONEDNN:
        return _onednn(a, b)
    return _aten(a, b)


@matmul_nt.register_fake
def _(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a.new_empty(a.shape[0], b.shape[0])


def _setup_context(ctx, inputs, output) -> None:
    ctx.save_for_backward(*inputs)


def _backward(ctx, grad: torch.Tensor):
    a, b = ctx.saved_tensors
    grad_a = matmul_nt(grad, b.t()) if ctx.needs_input_grad[0] else None  # [M, N]·[N, K]
    grad_b = matmul_nt(grad.t(), a.t()) if ctx.needs_input_grad[1] else None  # [N, M]·[M, K]
    return grad_a, grad_b


matmul_nt.register_autograd(_backward, setup_context=_setup_context)


@register_flop_formula(torch.ops.light_llm.matmul_nt)
def _flops(a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
    """What torch's FlopCounterMode counts for it, as for aten.mm: 2·M·K·N."""
    (rows, inner), (columns, _) = a_shape, b_shape
    return 2 * rows * inner * columns


def library_choices() -> list[str]:
    """One line per timed product shape, in the order first seen."""
    return [choice.describe(key) for key, choice in _choices.items()]


def clear_library_choices() -> None:
    _choices.clear()


def choices_state() -> list[list]:
    """The choices as JSON-ready rows [rows, inner, columns, a transposed, b transposed,
    threads, library, aten_us, onednn_us], for a checkpoint."""
    return [[*key, choice.library, choice.aten_us, choice.onednn_us] for key, choice in _choices.items()]


def restore_choices(state: list[list]) -> None:
    """Reuse a checkpoint's choices, so a resumed run multiplies as it did before."""
    for *key, library, aten_us, onednn_us in state:
        _choices[tuple(key)] = LibraryChoice(library, aten_us, onednn_us)


def is_transposed(matrix: torch.Tensor) -> bool:
    """A 2-D operand given as a transposed view (column-major): weight-gradient products
    take both operands so."""
    return matrix.stride(0) == 1 and matrix.shape[1] > 1


def _aten(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a @ b.t()


def _onednn(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(a, b, None, "none", [], "")


def _library(a: torch.Tensor, b: torch.Tensor) -> str:
    if a.shape[0] * a.shape[1] * b.shape[0] < MIN_MACS:
        return ATEN
    key: ShapeKey = (a.shape[0], a.shape[1], b.shape[0], is_transposed(a), is_transposed(b), torch.get_num_threads())
    choice = _choices.get(key)
    if choice is None:
        choice = _choices[key] = _calibrate(a, b)
        logger.debug(choice.describe(key))
    return choice.library


def _calibrate(a: torch.Tensor, b: torch.Tensor) -> LibraryChoice:
    try:
        aten_s, onednn_s = median_seconds(lambda: _aten(a, b), lambda: _onednn(a, b))
    except RuntimeError as error:  # a build or layout oneDNN refuses: torch's own library
        logger.debug("oneDNN matmul unavailable (%s): aten kept", error)
        return LibraryChoice(ATEN, float("nan"), float("nan"))
    library = ONEDNN if onednn_s < MIN_GAIN * aten_s else ATEN
    return LibraryChoice(library, aten_s * 1e6, onednn_s * 1e6)
