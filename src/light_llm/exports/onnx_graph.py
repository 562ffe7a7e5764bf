"""Tracing a model into `model.onnx` with the contract's names and dynamic axes.

The dynamo exporter (torch.export) traces through exports/trace.py (batch, sequence and
past lengths of at least 2, so no size is baked in). Present keys
and values get the axis name total_sequence_length (the exporter calls it
past_sequence_length + sequence_length). The resolved spec, the light_llm version and
the graph's geometry are stored as ONNX metadata.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from light_llm.errors import ExportError
from light_llm.exports.trace import trace
from light_llm.runtime.geometry import Geometry

MIN_OPSET = 18  # the dynamo exporter's oldest opset
MAX_OPSET = 22  # at 23 the exporter emits ONNX Attention, whose presents onnxruntime 1.32 gets wrong
EXTERNAL_DATA_BYTES = 2 * 1024**3  # protobuf's limit for one file
EXTERNAL_DATA_FILE = "model.onnx.data"


def check_opset(opset: int) -> None:
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ExportError(
            f"opset {opset} is not supported: light_llm exports opsets {MIN_OPSET} to {MAX_OPSET}"
        )


def export_graph(model: torch.nn.Module, geometry: Geometry, path: Path, opset: int,
                 metadata: dict[str, str]) -> None:
    """Writes `path` (plus external data beside it for models over 2 GB)."""
    import onnx

    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # e.g. "torchvision is not installed"
    large = sum(p.numel() * p.element_size() for p in model.parameters()) > EXTERNAL_DATA_BYTES

    def to_onnx(module, args, shapes):
        program = torch.onnx.export(
            module, args, dynamo=True, input_names=geometry.input_names(),
            output_names=geometry.output_names(), dynamic_shapes=shapes,
            opset_version=opset, optimize=True, verbose=False,
        )
        program.save(str(path), external_data=large)

    trace(None, model, geometry, to_onnx)  # exports/onnx.py words the error
    proto = onnx.load(str(path), load_external_data=False)
    _name_total_axes(proto)
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(path))


def _name_total_axes(proto) -> None:
    for output in proto.graph.output:
        if output.name.startswith("present."):
            output.type.tensor_type.shape.dim[2].dim_param = "total_sequence_length"
