"""The one trace wrapper of the torch targets (ONNX, TorchScript, torch.export): the
model's eager signature module (generation/eager_signature.py), example inputs in contract
order with their dynamic shapes, no autograd, the tracers' warnings silenced, and any
tracer failure turned into a one-line ExportError.

The example inputs have batch 2, sequence 3 and past 4 (total 7), so no size is baked
in; head counts and head sizes stay static.
"""

from __future__ import annotations

import warnings
from typing import Callable, TypeVar

import torch

from light_llm.errors import ExportError
from light_llm.generation.eager_signature import signature_module
from light_llm.runtime.geometry import Geometry

TRACE_BATCH, TRACE_SEQUENCE, TRACE_PAST = 2, 3, 4
Traced = TypeVar("Traced")
# (signature module, example inputs, dynamic shapes) → the traced artifact
Tracer = Callable[[torch.nn.Module, tuple, tuple], Traced]


def trace_inputs(geometry: Geometry) -> tuple[tuple[torch.Tensor, ...], tuple]:
    """Example inputs in `geometry.input_names()` order, and their dynamic shapes."""
    from torch.export import Dim

    batch, sequence = Dim("batch_size"), Dim("sequence_length")
    past, total = Dim("past_sequence_length"), Dim("total_sequence_length")
    b, s, p = TRACE_BATCH, TRACE_SEQUENCE, TRACE_PAST if geometry.cached else 0
    args: list[torch.Tensor] = [
        torch.randint(0, geometry.vocab_size, (b, s)),
        torch.ones(b, p + s, dtype=torch.long),
    ]
    shapes: list = [{0: batch, 1: sequence}, {0: batch, 1: total if geometry.cached else sequence}]
    if geometry.uses_position_ids:
        args.append(torch.arange(p, p + s).expand(b, s).contiguous())
        position_shape = {0: batch, 1: sequence}
        # FullSequence takes position_ids as *varargs: its shapes nest in a tuple
        shapes.append(position_shape if geometry.cached else (position_shape,))
    if geometry.cached:
        cache = (b, geometry.num_kv_heads, p, geometry.head_dim)
        past_args = [torch.randn(cache) for _ in range(2 * geometry.num_layers)]
        args += past_args
        shapes.append(tuple({0: batch, 2: past} for _ in past_args))  # the *past varargs
    return tuple(args), tuple(shapes)


def trace(what: str | None, model: torch.nn.Module, geometry: Geometry, tracer: Tracer) -> Traced:
    """`tracer` applied to the signature module of `model` (an export-target build);
    `what` names the exporter in the error ("TorchScript", "torch.export"), or None to
    let the caller word it."""
    module = signature_module(model.eval(), geometry)
    args, shapes = trace_inputs(geometry)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return tracer(module, args, shapes)
    except Exception as error:  # the tracers raise many types; one line says what
        if what is None:
            raise
        raise export_failed(what, error) from error


def export_failed(what: str, error: Exception) -> ExportError:
    """A one-line ExportError for an exception raised by torch while exporting: the line
    of a torch.onnx report that names the exception, else the first line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    summary = [line for line in lines if line.startswith("<class ")]
    return ExportError(f"{what} export failed: {(summary or lines or [type(error).__name__])[0]}")
