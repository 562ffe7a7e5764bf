"""Tracing a model into `model.onnx` with the contract's names and dynamic axes.

The dynamo exporter (torch.export) traces with batch, sequence and past lengths of at
least 2, so no size is baked in; head counts and head sizes stay static. Present keys
and values get the axis name total_sequence_length (the exporter calls it
past_sequence_length + sequence_length). The resolved spec, the light_llm version and
the graph's geometry are stored as ONNX metadata.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch

from light_llm.exports.graph_signature import signature_module
from light_llm.runtime.geometry import Geometry

MIN_OPSET = 18  # the dynamo exporter's oldest opset
MAX_OPSET = 22  # at 23 the exporter emits ONNX Attention, whose presents onnxruntime 1.32 gets wrong
EXTERNAL_DATA_BYTES = 2 * 1024**3  # protobuf's limit for one file
EXTERNAL_DATA_FILE = "model.onnx.data"
TRACE_BATCH, TRACE_SEQUENCE, TRACE_PAST = 2, 3, 4


def check_opset(opset: int) -> None:
    from light_llm.exports.result import ExportError

    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ExportError(
            f"opset {opset} is not supported: light_llm exports opsets {MIN_OPSET} to {MAX_OPSET}"
        )


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


def export_graph(model: torch.nn.Module, geometry: Geometry, path: Path, opset: int,
                 metadata: dict[str, str]) -> None:
    """Writes `path` (plus external data beside it for models over 2 GB)."""
    import onnx

    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # e.g. "torchvision is not installed"
    module = signature_module(model.eval(), geometry)
    args, shapes = trace_inputs(geometry)
    large = sum(p.numel() * p.element_size() for p in model.parameters()) > EXTERNAL_DATA_BYTES
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module, args, dynamo=True, input_names=geometry.input_names(),
            output_names=geometry.output_names(), dynamic_shapes=shapes,
            opset_version=opset, optimize=True, verbose=False,
        )
        program.save(str(path), external_data=large)
    proto = onnx.load(str(path), load_external_data=False)
    _name_total_axes(proto)
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(path))


def _name_total_axes(proto) -> None:
    for output in proto.graph.output:
        if output.name.startswith("present."):
            output.type.tensor_type.shape.dim[2].dim_param = "total_sequence_length"
