"""The training step's speed choices, made once per run and named in its first lines:

- the optimizer's kernel: fused AdamW (one kernel over every parameter of a group, on CPU
  and CUDA, fp32/bf16/fp16 parameters), else the multi-tensor `foreach` one; the update
  is the same AdamW, equal up to floating-point rounding;
- whether the forward (and so its backward) runs through `torch.compile` (Inductor fuses
  the norms, rotary embedding, activation and residual adds into a few kernels).
  train.compile `auto` measures instead of guessing: it times the first training forwards
  eagerly and compiles when the steps left would take at least AUTO_COMPILE_SECONDS
  eagerly. Compiling costs tens of seconds to minutes on a CPU (less on a warm Inductor
  cache) and saves a share of every step, so short runs (tests, smoke runs, the
  quickstart) start at once and long ones amortise it. Validation forwards (no gradients)
  stay eager: a few batches do not pay for a second, inference-only compile.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from light_llm.formatting import error_line
from light_llm.schemas.train import AUTO_COMPILE_SECONDS

TIMED_FORWARDS = 3  # eager training forwards timed after the first (which warms up)
STEP_PER_FORWARD = 3.0  # a training step ≈ forward + backward (about twice the forward)


def adamw_kernel(parameters: list[torch.Tensor]) -> dict[str, bool]:
    """AdamW's keyword choosing its kernel for these parameters: {"fused": True} where
    torch has a fused kernel for their device and dtype, else {"foreach": True}."""
    devices = {p.device.type for p in parameters}
    dtypes = {p.dtype for p in parameters}
    fused_devices = {"cpu", "cuda"}
    fused_dtypes = {torch.float32, torch.bfloat16, torch.float16}
    if len(devices) == 1 and devices <= fused_devices and dtypes <= fused_dtypes and not _sharded(parameters):
        return {"fused": True}
    return {"foreach": True}


def _sharded(parameters: list[torch.Tensor]) -> bool:
    """FSDP2's DTensor parameters: left to the foreach kernel, which takes them."""
    from torch.distributed.tensor import DTensor

    return any(isinstance(p, DTensor) for p in parameters)


class AutoCompiled:
    """The forward of train.compile auto: eager for the first training forwards (timed),
    then compiled if the forwards left would take AUTO_COMPILE_SECONDS or more as whole
    eager steps. Where compiling fails at its first call (no C++ compiler, an op Inductor
    cannot take), the run goes on eagerly after one line through `note`."""

    def __init__(self, module: torch.nn.Module, forwards: int, note: Callable[[str], None]):
        self.module = module
        self.forwards_left = forwards
        self.note = note
        self.compiled: Callable[..., torch.Tensor] | None = None
        self.times: list[float] | None = []  # None once decided

    def describe(self) -> str:
        return f"forward eager, compiled if the steps left take ≥ {AUTO_COMPILE_SECONDS // 60} min (train.compile auto)"

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        if not torch.is_grad_enabled():
            return self.module(*inputs)
        self.forwards_left -= 1
        if self.compiled is not None:
            try:
                return self.compiled(*inputs)
            except Exception as error:  # noqa: BLE001 - any compile failure: train eagerly
                self.compiled = None
                self.note(f"torch.compile unavailable ({error_line(error)}); training eagerly")
        if self.times is None:
            return self.module(*inputs)
        started = time.perf_counter()
        logits = self.module(*inputs)
        self.times.append(time.perf_counter() - started)
        if len(self.times) > TIMED_FORWARDS:
            self._decide(statistics.median(self.times[1:]) * STEP_PER_FORWARD * self.forwards_left)
        return logits

    def _decide(self, eager_seconds_left: float) -> None:
        self.times = None
        if eager_seconds_left >= AUTO_COMPILE_SECONDS:
            self.compiled = torch.compile(self.module)
            self.note(f"compiling the training forward: the {self.forwards_left} forwards and backwards "
                      f"left would take about {eager_seconds_left / 60:.0f} min eagerly")


def training_forward(module: torch.nn.Module, setting: bool | str, forwards: int,
                     note: Callable[[str], None]) -> Callable[..., torch.Tensor]:
    """What the training loop calls for logits: `module`, its compiled form (true), or
    AutoCompiled (auto). `forwards`: training forwards the run has left."""
    if setting == "auto":
        return AutoCompiled(module, forwards, note)
    return torch.compile(module) if setting else module


def describe_forward(forward: Callable[..., torch.Tensor], module: torch.nn.Module) -> str:
    if isinstance(forward, AutoCompiled):
        return forward.describe()
    return "forward eager" if forward is module else "forward compiled"
