"""Which kernel computes a few-row Linear fastest on this machine, measured on first use.

A choice is keyed by weight shape, bias, dtype, input row count and torch's thread count,
timed once per process with a few alternating repetitions of both candidates, and kept
in memory. The timing cycles through copies of the weight larger than the CPU's caches
together, since a decode step reads every weight from memory: a weight timed hot in cache
favours the kernel that is fastest on cached data, which in decode it never is. It is not
stored on disk: calibrating every few-row shape of a model costs
milliseconds to a few tenths of a second (`benchmarks/inference.py` prints it), less than
loading the weights, while a stored choice would outlive what it depends on (the load on
the machine, BLAS settings, thread affinity). The blocked kernel is kept only when it is
clearly faster; a failed measurement keeps the plain one.
"""

from __future__ import annotations

import itertools
import logging
import math
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

PLAIN = "plain"  # F.linear
BLOCKED = "blocked"  # one batched matmul over blocks of output rows
KERNELS = (PLAIN, BLOCKED)
REPETITIONS = 7  # alternating timed samples of each candidate; the median counts
MIN_SAMPLE_SECONDS = 1e-4  # short calls are repeated inside a sample up to this long
MAX_INNER_CALLS = 64
MIN_GAIN = 0.9  # blocked must take under 90% of plain's time: noise never picks a slower kernel
COLD_BYTES = 64 << 20  # copies of the weight cycled while timing: decode reads each weight from memory, not cache
MAX_COPIES = 64

Kernel = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]
ChoiceKey = tuple[int, int, bool, torch.dtype, int, int]  # out, in, bias, dtype, rows, threads

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class KernelChoice:
    kernel: str
    plain_us: float  # median microseconds per call; nan when not measured
    blocked_us: float
    spent_s: float  # the calibration's own time

    def describe(self, key: ChoiceKey) -> str:
        out_features, in_features, bias, dtype, rows, threads = key
        dtype_name = str(dtype).removeprefix("torch.")
        return (
            f"linear {in_features}->{out_features}{' +bias' if bias else ''} {dtype_name} rows={rows} "
            f"threads={threads}: plain {self.plain_us:.1f} us, blocked {self.blocked_us:.1f} us -> {self.kernel}"
        )


_choices: dict[ChoiceKey, KernelChoice] = {}
_forced: str | None = None


def chosen_kernel(
    plain: Kernel, blocked: Kernel, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, rows: int
) -> str:
    """PLAIN or BLOCKED for this call's shape, measuring both the first time it is seen."""
    if _forced is not None:
        return _forced
    key = _key(weight, bias, rows, torch.get_num_threads())
    choice = _choices.get(key)
    if choice is None:
        choice = _calibrate(plain, blocked, x, weight, bias)
        _choices[key] = choice
        logger.debug(choice.describe(key))
    return choice.kernel


def known_kernel(weight: torch.Tensor, bias: torch.Tensor | None, rows: int, threads: int) -> str | None:
    """The kernel already chosen for this shape, or None before its calibration (never
    measures: torch.compile's tracing asks it to inline the choice)."""
    if _forced is not None:
        return _forced
    choice = _choices.get(_key(weight, bias, rows, threads))
    return None if choice is None else choice.kernel


def _key(weight: torch.Tensor, bias: torch.Tensor | None, rows: int, threads: int) -> ChoiceKey:
    return (weight.shape[0], weight.shape[1], bias is not None, weight.dtype, rows, threads)


def kernel_choices() -> list[str]:
    """One line per calibrated shape, in the order first seen (for reports and benchmarks)."""
    return [choice.describe(key) for key, choice in _choices.items()]


def calibration_seconds() -> float:
    """The time all calibrations so far took."""
    return sum(choice.spent_s for choice in _choices.values())


def clear_kernel_choices() -> None:
    _choices.clear()


@contextmanager
def forced_kernel(kernel: str) -> Iterator[None]:
    """Every few-row Linear uses `kernel` inside (for tests and side-by-side benchmarks)."""
    global _forced
    if kernel not in KERNELS:
        raise ValueError(f"kernel {kernel!r} is not one of {KERNELS}")
    previous, _forced = _forced, kernel
    try:
        yield
    finally:
        _forced = previous


def _calibrate(
    plain: Kernel, blocked: Kernel, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> KernelChoice:
    x = x.detach()
    start = time.perf_counter()
    try:
        with torch.no_grad():
            copies = _cold_copies(weight)
            plain_s, blocked_s = median_seconds(_cycling(plain, x, copies, bias), _cycling(blocked, x, copies, bias))
    except RuntimeError as error:  # e.g. a backend refusing the blocked view: keep the plain kernel
        logger.debug("linear calibration failed (%s): plain kernel kept", error)
        return KernelChoice(PLAIN, math.nan, math.nan, time.perf_counter() - start)
    kernel = BLOCKED if blocked_s < MIN_GAIN * plain_s else PLAIN
    return KernelChoice(kernel, plain_s * 1e6, blocked_s * 1e6, time.perf_counter() - start)


def _cold_copies(weight: torch.Tensor) -> list[torch.Tensor]:
    """Enough copies of `weight` that cycling through them reads it from memory, as a decode
    step does (each weight is read once per token, after every other layer's)."""
    count = min(MAX_COPIES, max(1, math.ceil(COLD_BYTES / (weight.numel() * weight.element_size()))))
    return [weight.detach().clone() for _ in range(count)]


def _cycling(kernel: Kernel, x: torch.Tensor, copies: list[torch.Tensor], bias: torch.Tensor | None):
    turns = itertools.cycle(copies)
    return lambda: kernel(x, next(turns), bias)


def median_seconds(*candidates: Callable[[], torch.Tensor]) -> list[float]:
    """Median seconds per call of each candidate, samples interleaved so load hits all alike."""
    first = []
    for candidate in candidates:
        start = time.perf_counter()
        candidate()  # also the warm-up
        first.append(time.perf_counter() - start)
    inner = min(MAX_INNER_CALLS, max(1, math.ceil(MIN_SAMPLE_SECONDS / max(min(first), 1e-9))))
    samples: list[list[float]] = [[] for _ in candidates]
    for _ in range(REPETITIONS):
        for candidate, taken in zip(candidates, samples):
            start = time.perf_counter()
            for _ in range(inner):
                candidate()
            taken.append((time.perf_counter() - start) / inner)
    return [statistics.median(taken) for taken in samples]
