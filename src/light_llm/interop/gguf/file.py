"""One GGUF file opened with llama.cpp's own reader (`gguf.GGUFReader`, memory-mapped):
its metadata as plain Python values and its tensors, checked to be wholly inside the file.

Any failure of the reader (a truncated header, a bad string, data cut short) becomes one
`GGUFError` line naming the file and what went wrong."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from light_llm.errors import LightLLMError
from light_llm.formatting import error_line

MAGIC = b"GGUF"


class GGUFError(LightLLMError):
    """A GGUF file that cannot be read or imported; the message says why."""


def is_gguf(path: Path) -> bool:
    """Whether `path` is a file starting with the GGUF magic (whatever its suffix)."""
    try:
        with open(path, "rb") as file:
            return file.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


class GGUFFile:
    """The metadata and tensors of one GGUF file."""

    def __init__(self, path: Path):
        from gguf import GGUFReader

        self.path = Path(path)
        if not is_gguf(self.path):
            raise GGUFError(f"{self.path}: not a GGUF file (it does not start with the GGUF magic)")
        try:
            self._reader = GGUFReader(self.path, "r")
        except ValueError as error:
            if "cannot reshape" not in str(error):  # numpy's words for a memory-mapped slice cut short
                raise GGUFError(f"{self.path}: unreadable GGUF file (truncated or corrupt): "
                                f"{error_line(error)}") from None
            raise GGUFError(f"{self.path}: truncated GGUF file: its tensor data ends past the end of the file "
                            f"({self.path.stat().st_size:,} bytes)") from None
        except Exception as error:  # the reader raises IndexError, KeyError, UnicodeError… on a bad header
            raise GGUFError(f"{self.path}: unreadable GGUF file (truncated or corrupt): {error_line(error)}") from None
        self.tensors = {tensor.name: tensor for tensor in self._reader.tensors}
        cut = [name for name, tensor in self.tensors.items() if tensor.data.nbytes != tensor.n_bytes]
        if cut:
            raise GGUFError(f"{self.path}: truncated GGUF file: the data of {len(cut)} tensors ends past the "
                            f"end of the file (first: {cut[0]})")

    def get(self, key: str, default: Any = None) -> Any:
        """The metadata value under `key` (a str, int, float, bool or list), or `default`; a
        float32 as the shortest decimal that reads back as it."""
        from gguf import GGUFValueType

        field = self._reader.fields.get(key)
        if field is None:
            return default
        value = field.contents()
        if field.types == [GGUFValueType.FLOAT32]:  # the decimal that was written (1e-06, not 9.99999997e-07)
            return float(str(np.float32(value)))
        return value

    def require(self, key: str) -> Any:
        value = self.get(key)
        if value is None:
            raise GGUFError(f"{self.path}: metadata key {key} is missing")
        return value

    @property
    def architecture(self) -> str:
        return str(self.require("general.architecture"))

    def hf_shape(self, name: str) -> tuple[int, ...]:
        """The tensor's shape in PyTorch order (GGUF lists dimensions innermost first)."""
        return tuple(int(size) for size in reversed(self.tensors[name].shape))

    def type_name(self, name: str) -> str:
        return self.tensors[name].tensor_type.name

    def tensor_types(self) -> dict[str, int]:
        """How many tensors of each GGML type the file holds, most frequent first."""
        return dict(Counter(tensor.tensor_type.name for tensor in self.tensors.values()).most_common())

    def file_type(self) -> str | None:
        """`general.file_type` by its llama.cpp name (MOSTLY_Q4_1, …), None where absent."""
        from gguf import LlamaFileType

        value = self.get("general.file_type")
        if value is None:
            return None
        try:
            return LlamaFileType(value).name
        except ValueError:
            return str(value)
