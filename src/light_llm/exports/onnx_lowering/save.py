"""Saving the ModelProto: one file, or the weights as external data beside it when the
model passes protobuf's 2 GB limit."""

from __future__ import annotations

from pathlib import Path

import onnx

EXTERNAL_DATA_BYTES = 2 * 1024**3
EXTERNAL_DATA_FILE = "model.onnx.data"


def save_model(model: onnx.ModelProto, path: Path) -> None:
    weight_bytes = sum(len(t.raw_data) for t in model.graph.initializer)
    if weight_bytes < EXTERNAL_DATA_BYTES - 64 * 1024**2:  # room for the graph itself
        onnx.save_model(model, str(path))
        return
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=EXTERNAL_DATA_FILE, size_threshold=1024)
