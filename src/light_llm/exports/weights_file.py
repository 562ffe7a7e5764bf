"""A safetensors file read one tensor at a time with plain file reads, not a memory map:
a mapped file's pages stay in the process's resident memory once touched, so reading a
whole model through a map costs its size again until the map is closed. Here each tensor
is read into an array of its own (or straight into a tensor's memory) and nothing else
stays resident.

The format (safetensors' documented layout): an 8-byte little-endian header size, a JSON
header {name: {dtype, shape, data_offsets: [begin, end]}} (offsets after the header),
then the data. The safetensors package reads it too, but only through a map.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from light_llm.errors import ExportError

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32,
          "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_, "BF16": np.uint16}  # bf16: raw bits, widened on read


class SafetensorsFile:
    def __init__(self, path: Path):
        """Reads the header; an ExportError says what is wrong with a damaged file."""
        self.path = Path(path)
        file_size = self.path.stat().st_size
        with open(self.path, "rb") as file:
            start = file.read(8)
            if len(start) < 8:
                raise ExportError("not a safetensors file (shorter than its 8-byte header size)")
            (size,) = struct.unpack("<Q", start)
            if size > file_size - 8:
                raise ExportError(f"not a safetensors file (a header of {size} bytes in a file of {file_size})")
            try:
                header = json.loads(file.read(size))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise ExportError("not a safetensors file (its header is not JSON)") from None
        if not isinstance(header, dict):
            raise ExportError("not a safetensors file (its header is not a JSON object)")
        header.pop("__metadata__", None)
        self.entries: dict[str, dict] = header
        self.data_start = 8 + size
        for name, entry in header.items():
            begin, end = _offsets(entry)
            if entry.get("dtype") not in DTYPES or not 0 <= begin <= end <= file_size - self.data_start:
                raise ExportError(f"tensor {name!r}: unknown dtype or data outside the file")

    def names(self) -> list[str]:
        return list(self.entries)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.entries[name]["shape"])

    def nbytes(self) -> int:
        return sum(entry["data_offsets"][1] - entry["data_offsets"][0] for entry in self.entries.values())

    def read(self, name: str) -> np.ndarray:
        """The tensor as stored (bf16 widened to float32)."""
        entry = self.entries[name]
        stored = np.empty(self.shape(name), dtype=DTYPES[entry["dtype"]])
        self._read_into(entry, stored)
        if entry["dtype"] == "BF16":
            return (stored.astype(np.uint32) << 16).view(np.float32)
        return stored

    def read_float32(self, name: str) -> np.ndarray:
        return self.read(name).astype(np.float32, copy=False)

    def read_into(self, name: str, target: np.ndarray) -> None:
        """Reads `name` into `target` (C-contiguous, same shape); no copy where the
        dtypes match, one tensor's copy where they differ."""
        entry = self.entries[name]
        if target.dtype == DTYPES[entry["dtype"]] and entry["dtype"] != "BF16":
            self._read_into(entry, target)
        else:
            target[...] = self.read(name)

    def _read_into(self, entry: dict, target: np.ndarray) -> None:
        begin, end = entry["data_offsets"]
        if target.nbytes != end - begin:
            raise ExportError(f"{self.path}: a tensor of {end - begin} bytes does not fit {target.shape} {target.dtype}")
        view = memoryview(target.reshape(-1).view(np.uint8))
        with open(self.path, "rb") as file:
            file.seek(self.data_start + begin)
            read = 0
            while read < len(view):
                count = file.readinto(view[read:])
                if not count:
                    raise ExportError(f"{self.path}: truncated (a tensor ends past the end of the file)")
                read += count


def _offsets(entry) -> tuple[int, int]:
    try:
        begin, end = entry["data_offsets"]
        return int(begin), int(end)
    except (TypeError, KeyError, ValueError):
        raise ExportError("not a safetensors file (a tensor without data_offsets)") from None


def open_weights(path: Path) -> SafetensorsFile:
    """The model folder's weights file, or a ModelFolderError naming it and the problem."""
    from light_llm.model_folder import ModelFolderError

    try:
        return SafetensorsFile(path)
    except (OSError, ValueError) as error:
        raise ModelFolderError(f"{path}: cannot read weights: {error}") from None
