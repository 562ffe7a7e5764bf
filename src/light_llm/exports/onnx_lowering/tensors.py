"""Initializers streamed to disk as they are made, so the writer holds one weight tensor
at a time, never the whole model.

Each tensor's bytes go to a scratch file beside the model as soon as the graph writer
makes it; the graph keeps only names, types and offsets. `save` then writes either
- one `model.onnx` (models under 2 GB): the graph, then every initializer appended as
  its own `graph { initializer }` record. Protobuf merges repeated occurrences of an
  embedded message, so readers see one graph holding every initializer; or
- `model.onnx` + `model.onnx.data` (external data, or when asked): the scratch file
  becomes the data file and the initializers point into it. onnxruntime memory-maps
  such a file, and the quantizer reads it one tensor at a time; `inline_external_data`
  turns it into the single file afterwards, one tensor at a time as well.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from light_llm.errors import ExportError

EXTERNAL_DATA_BYTES = 2 * 1024**3  # protobuf's limit for one message
EXTERNAL_DATA_FILE = "model.onnx.data"
ALIGNMENT = 64  # bytes; lets onnxruntime memory-map external tensors
INLINE_BYTES = 1024  # smaller tensors (shapes, split sizes) stay in the graph: shape inference reads them
COPY_CHUNK = 64 * 1024**2


class TensorStore:
    def __init__(self, folder: Path):
        self.scratch = folder / f".{EXTERNAL_DATA_FILE}.partial"
        self._file = open(self.scratch, "wb")
        self.tensors: list[tuple[onnx.TensorProto, int, int]] = []  # (header, offset, length)
        self.small: list[onnx.TensorProto] = []

    def add(self, name: str, array: np.ndarray) -> None:
        array = np.asarray(array, order="C")
        if array.nbytes < INLINE_BYTES:
            self.small.append(numpy_helper.from_array(array, name))
            return
        offset = -self._file.tell() % ALIGNMENT + self._file.tell()
        self._file.seek(offset)
        data = np.ascontiguousarray(array.astype(array.dtype.newbyteorder("<"), copy=False))
        self._file.write(memoryview(data).cast("B"))  # the array's own bytes: no copy of a large tensor
        header = onnx.TensorProto(name=name, data_type=helper.np_dtype_to_tensor_dtype(array.dtype))
        header.dims.extend(array.shape)
        self.tensors.append((header, offset, data.nbytes))

    def __enter__(self) -> "TensorStore":
        return self

    def __exit__(self, *exc) -> None:
        self._file.close()
        self.scratch.unlink(missing_ok=True)

    @property
    def nbytes(self) -> int:
        return sum(length for _, _, length in self.tensors)

    def save(self, model: onnx.ModelProto, path: Path, external: bool = False) -> None:
        """Writes `path` (and `model.onnx.data` beside it when the weights pass 2 GB or
        `external` asks for it)."""
        self._file.close()
        model.graph.initializer.extend(self.small)
        if external or needs_external_data(self.nbytes):
            self._save_external(model, path)
        else:
            self._save_inline(model, path)

    def _save_external(self, model: onnx.ModelProto, path: Path) -> None:
        for header, offset, length in self.tensors:
            tensor = model.graph.initializer.add()
            tensor.CopyFrom(header)
            tensor.data_location = onnx.TensorProto.EXTERNAL
            for key, value in (("location", EXTERNAL_DATA_FILE), ("offset", str(offset)), ("length", str(length))):
                tensor.external_data.add(key=key, value=value)
        os.replace(self.scratch, path.parent / EXTERNAL_DATA_FILE)
        path.write_bytes(model.SerializeToString())

    def _save_inline(self, model: onnx.ModelProto, path: Path) -> None:
        _write_inline(model, path, self.scratch, self.tensors)


def needs_external_data(weight_bytes: int) -> bool:
    return weight_bytes > EXTERNAL_DATA_BYTES - 64 * 1024**2  # room for the graph itself


def external_data_bytes(path: Path) -> int:
    """The bytes of `path`'s initializers kept in external data (0: none)."""
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    model = onnx.load(str(path), load_external_data=False)
    return sum(ExternalDataInfo(t).length or 0 for t in model.graph.initializer if uses_external_data(t))


def inline_external_data(path: Path, on_tensor=None) -> None:
    """Rewrites `path` (a graph whose large initializers live in `model.onnx.data`, as
    `TensorStore.save(external=True)` writes it) as one file, reading one tensor at a
    time, and removes the data file. `on_tensor(done)` follows the progress."""
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    model = onnx.load(str(path), load_external_data=False)
    kept, tensors = [], []
    for tensor in model.graph.initializer:
        if not uses_external_data(tensor):
            kept.append(tensor)
            continue
        info = ExternalDataInfo(tensor)
        if info.location != EXTERNAL_DATA_FILE:
            raise ExportError(f"{path}: external data in {info.location!r}, expected {EXTERNAL_DATA_FILE!r}")
        header = onnx.TensorProto(name=tensor.name, data_type=tensor.data_type)
        header.dims.extend(tensor.dims)
        tensors.append((header, info.offset or 0, info.length))
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    staged = path.with_name(f".{path.name}.inline")
    _write_inline(model, staged, path.parent / EXTERNAL_DATA_FILE, tensors, on_tensor)
    os.replace(staged, path)
    (path.parent / EXTERNAL_DATA_FILE).unlink()


def _write_inline(model: onnx.ModelProto, path: Path, data_path: Path, tensors, on_tensor=None) -> None:
    with open(path, "wb") as out, open(data_path, "rb") as data:
        out.write(model.SerializeToString())
        for done, (header, offset, length) in enumerate(tensors, 1):
            tensor = onnx.TensorProto()
            tensor.CopyFrom(header)
            data.seek(offset)
            tensor.raw_data = data.read(length)
            record = onnx.ModelProto()
            record.graph.initializer.append(tensor)
            out.write(record.SerializeToString())
            del tensor, record
            if on_tensor:
                on_tensor(done)
