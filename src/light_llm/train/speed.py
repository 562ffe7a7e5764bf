"""The training step's speed choices, made once per run and printed with its description:

- the optimizer's kernel: fused AdamW (one kernel over every parameter of a group, on CPU
  and CUDA, fp32/bf16/fp16 parameters), else the multi-tensor `foreach` one, else the
  per-parameter loop; the update is the same AdamW, equal up to floating-point rounding;
- whether the forward (and so its backward) runs through `torch.compile` (Inductor fuses
  the norms, rotary embedding, activation and residual adds into a few kernels).
  train.compile `auto` compiles runs of at least AUTO_COMPILE_STEPS steps: compiling costs
  tens of seconds on a CPU (less on a warm Inductor cache), each step saves a share of its
  time, so short runs (tests, smoke runs) start at once and long ones amortise it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from light_llm.formatting import error_line
from light_llm.schemas.train import AUTO_COMPILE_STEPS


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


def compiles(setting: bool | str, steps: int) -> bool:
    """Whether a run of `steps` steps compiles its forward for train.compile = `setting`."""
    if setting == "auto":
        return steps >= AUTO_COMPILE_STEPS
    return bool(setting)


class CompiledOrEager:
    """torch.compile of `module` for train.compile auto: where compiling fails at the first
    call (no C++ compiler, an op Inductor cannot take), the run goes on eagerly after one
    line through `note`. (An explicit train.compile true lets the error stop the run.)"""

    def __init__(self, module: torch.nn.Module, note: Callable[[str], None]):
        self.module = module
        self.compiled: Callable[..., torch.Tensor] | None = torch.compile(module)
        self.note = note

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        if self.compiled is not None:
            try:
                return self.compiled(*inputs)
            except Exception as error:  # noqa: BLE001 - any compile failure: train eagerly
                self.compiled = None
                self.note(f"torch.compile unavailable ({error_line(error)}); training eagerly")
        return self.module(*inputs)


def training_forward(module: torch.nn.Module, setting: bool | str, steps: int,
                     note: Callable[[str], None]) -> Callable[..., torch.Tensor]:
    """What the training loop calls for logits: `module`, or its compiled form."""
    if not compiles(setting, steps):
        return module
    return CompiledOrEager(module, note) if setting == "auto" else torch.compile(module)
