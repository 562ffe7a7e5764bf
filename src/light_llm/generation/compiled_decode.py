"""Eager generation with a compiled decode step: the `Run` that `load_eager` hands to the
generator for models with a KV cache.

The prompt (prefill) always runs the plain eager path: its length varies and it runs once.
Decode steps run either the plain path too, or `torch.compile` of the same signature module
over a fixed-capacity cache (static_cache.py): static shapes, one compile per batch size
and capacity, the same greedy tokens (logits equal up to fp32 summation order).

When to compile (`compile`):
- "on": at the first decode step;
- "off": never;
- "auto" (the default): like a tiering JIT, once this loaded model has decoded
  AUTO_COMPILE_AFTER tokens with the plain path, in one generation or over several (a
  server, a Python session). Compiling costs seconds (tens on a cold cache, see below)
  and saves milliseconds per token, so a short one-off `lightllm generate` never pays it.

Compile time is logged (logger `light_llm.generation.compiled_decode`, INFO) and kept in
`compile_seconds`. Inductor keeps what it compiled on disk (its FX graph and AOTAutograd
caches, under TORCHINDUCTOR_CACHE_DIR, by default a torchinductor_<user> folder in the
temporary directory), so a later process compiling the same model shape skips code
generation and the C++ compiler and pays mostly for Dynamo's tracing; on a cold cache
the first compile also generates and compiles the kernels. Where compiling fails (no C++
compiler, an op Inductor cannot take), a debug line names the error and decoding goes on
with the plain path, giving the same tokens.
"""

from __future__ import annotations

import itertools
import logging
import time
import types
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import torch
from torch import nn

from light_llm.errors import LightLLMError
from light_llm.formatting import error_line
from light_llm.generation.eager_signature import run_module
from light_llm.runtime.geometry import Geometry
from light_llm.generation.static_cache import StaticCache, capacity_for

CompileMode = Literal["auto", "on", "off"]
COMPILE_MODES: tuple[str, ...] = ("auto", "on", "off")
AUTO_COMPILE_AFTER = 2048  # plain-path decode tokens before "auto" compiles

logger = logging.getLogger(__name__)


class CompileModeError(LightLLMError):
    """A compile mode that is not one of COMPILE_MODES."""


def check_compile_mode(compile: str) -> None:
    if compile not in COMPILE_MODES:
        raise CompileModeError(f"compile={compile!r}: allowed: {', '.join(COMPILE_MODES)}")


def compile_step(module: nn.Module) -> Callable[..., tuple[torch.Tensor, ...]]:
    """torch.compile of a decode step (a seam the tests replace to make compiling fail)."""
    # dynamic=None: static shapes first; a dimension that changes later (a batch size in a
    # server, a grown cache) recompiles once as a dynamic dimension, not once per size.
    # No guards on the module's attributes: nothing replaces a loaded model's parameters or
    # changes its configuration, and checking them cost ~0.5 ms of a ~3.5 ms step. The
    # parameters are still read at every call, so in-place updates of their values count.
    return torch.compile(own_code(module), fullgraph=True, dynamic=None,
                         options={"guard_filter_fn": torch.compiler.skip_guard_on_all_nn_modules_unsafe})


def own_code(module: nn.Module) -> Callable[..., tuple[torch.Tensor, ...]]:
    """`module` called through a function with a code object of its own. Dynamo keeps
    compiled graphs per code object, and without the module guards nothing would tell a
    second model of the same shapes (a different norm eps, say) from the first: it would
    run the first one's graph."""
    def step(*inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return module(*inputs)

    code = step.__code__.replace(co_name=f"decode_step_{next(_steps)}")
    return types.FunctionType(code, step.__globals__, code.co_name, None, step.__closure__)


_steps = itertools.count()


class CompiledDecode:
    """A `Run` (named numpy feeds → named numpy outputs, the plain eager path) whose
    `bound()` decodes through the compiled step once compiling pays (see the module doc)."""

    def __init__(self, signature: nn.Module, geometry: Geometry, compile: CompileMode = "auto"):
        check_compile_mode(compile)
        self.signature = signature
        self.geometry = geometry
        self.mode = compile
        self.plain = run_module(signature, geometry)
        self.decoded_tokens = 0  # decode steps run with the plain path (for "auto")
        self.compile_seconds: float | None = None  # set once compiled
        self.unavailable: str | None = None  # why compiling failed, once it has
        self._step: Callable[..., tuple[torch.Tensor, ...]] | None = None

    def __call__(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.plain(feeds)

    def bound(self) -> "BoundDecode":
        return BoundDecode(self)

    def wants_compiled(self) -> bool:
        if self.unavailable is not None or self.mode == "off":
            return False
        return self.mode == "on" or self.decoded_tokens >= AUTO_COMPILE_AFTER

    def compiled_step(self) -> Callable[..., tuple[torch.Tensor, ...]] | None:
        if self._step is None and self.unavailable is None:
            try:
                self._step = compile_step(self.signature)
            except Exception as error:  # noqa: BLE001 - any failure means: decode without it
                self.give_up(error)
        return self._step

    def give_up(self, error: BaseException) -> None:
        self.unavailable = error_line(error)
        self._step = None
        logger.debug("compiled decode unavailable (%s); decoding with the plain eager path", self.unavailable)


class BoundDecode:
    """One generation's state: the plain past (torch tensors) until the compiled step takes
    over, then a StaticCache. The presents it returns have the contract's shapes (views of
    the cache); when the next call's past is not those very views (a server that stacked or
    dropped rows), the cache is rebuilt from the past it was given."""

    def __init__(self, decode: CompiledDecode):
        self.decode = decode
        self.names = decode.geometry.input_names()
        self.past_names = [name for name in self.names if name.startswith("past_key_values.")]
        self.outputs = decode.geometry.output_names()
        self.cache: StaticCache | None = None
        self.handed: list[torch.Tensor] = []  # the presents of the last compiled step

    def __call__(self, feeds: dict) -> dict:
        with torch.no_grad():
            past = [torch.as_tensor(feeds[name]) for name in self.past_names]
            if self.cache is not None and not self._handed_back(feeds):
                self.cache = None  # the caller changed the rows: start from its past
            decoding = past[0].shape[2] > 0 or self.cache is not None
            if decoding and self.decode.wants_compiled():
                results = self._compiled(feeds, past)
                if results is not None:
                    return results
            if self.cache is not None:  # compiling failed after the cache was built
                past, self.cache = self.cache.plain_past(), None
            results = self.decode.signature(*self._inputs(feeds, past))
            if decoding:
                self.decode.decoded_tokens += 1
            return self._named(results)

    def release(self) -> None:
        """Lets go of the static cache (a finished batch's keys and values)."""
        self.cache, self.handed = None, []

    def _compiled(self, feeds: dict, past: list[torch.Tensor]) -> dict | None:
        mask_length = feeds["attention_mask"].shape[1]
        if self.cache is None or not self.cache.fits(mask_length):
            plain = past if self.cache is None else self.cache.plain_past()
            self.cache = StaticCache.from_past(plain, capacity_for(mask_length - 1, self.decode.geometry.max_seq_len))
        inputs = self._inputs(feeds, self.cache.past(), self.cache.step_mask(feeds["attention_mask"]))
        if self.decode.compile_seconds is None and self.decode.unavailable is None:
            self.decode.signature(*inputs)  # calibrates the few-row Linears, so tracing inlines their kernels
        step = self.decode.compiled_step()
        if step is None:
            return None
        started = time.perf_counter()
        try:
            results = step(*inputs)
        except Exception as error:  # noqa: BLE001 - Dynamo/Inductor errors surface on the first call
            self.decode.give_up(error)
            return None
        if self.decode.compile_seconds is None:
            self.decode.compile_seconds = time.perf_counter() - started
            logger.info("compiled the decode step in %.1f s (batch %d, cache capacity %d)",
                        self.decode.compile_seconds, inputs[0].shape[0], self.cache.capacity)
        self.cache = self.cache.advanced(results[1:])
        self.handed = self.cache.plain_past()
        return self._named([results[0], *self.handed])

    def _handed_back(self, feeds: dict) -> bool:
        return len(self.handed) == len(self.past_names) and all(
            feeds[name] is handed for name, handed in zip(self.past_names, self.handed))

    def _inputs(self, feeds: dict, past: Sequence[torch.Tensor], mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        inputs = []
        for name in self.names:
            if name.startswith("past_key_values."):
                continue
            if name == "attention_mask" and mask is not None:
                inputs.append(mask)
            else:  # a flat copy viewed back: a [1, 1] slice counts as contiguous in numpy and
                # torch whatever its strides, and a compiled graph guards on strides
                array = np.asarray(feeds[name])
                inputs.append(torch.from_numpy(array.reshape(-1).copy()).view(array.shape))
        return inputs + list(past)

    def _named(self, results: Sequence[torch.Tensor]) -> dict:
        named = dict(zip(self.outputs, results))
        named["logits"] = named["logits"].numpy()
        return named
