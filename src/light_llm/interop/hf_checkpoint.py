"""The weights of a Hugging Face folder, read without pickle and without a second copy.

    model.safetensors                       one file
    model.safetensors.index.json + shards   sharded safetensors
    pytorch_model.bin (+ .index.json)       torch.load(weights_only=True, mmap=True): plain
                                            tensors only; a file holding any other object
                                            is refused, never unpickled

Names, shapes and dtypes come from the file headers (`HFCheckpoint.shapes`) before any
tensor is read; `read_fp32` then reads tensors one at a time, shard by shard, each cast
to fp32 on its own (bf16/fp16 checkpoints never exist twice in memory as a whole).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from light_llm.errors import LightLLMError

SAFETENSORS, SAFETENSORS_INDEX = "model.safetensors", "model.safetensors.index.json"
PICKLED, PICKLED_INDEX = "pytorch_model.bin", "pytorch_model.bin.index.json"


class HFCheckpointError(LightLLMError):
    """Weights that cannot be read; the message names the file and what is wrong."""


@dataclass
class HFCheckpoint:
    source: Path
    shards: list[str]
    safetensors: bool

    @property
    def files(self) -> list[Path]:
        return [self.source / shard for shard in self.shards]

    def shapes(self) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        """name → (shape, dtype) of every tensor, from the headers alone."""
        found: dict[str, tuple[tuple[int, ...], torch.dtype]] = {}
        for path, handle in self._opened():
            for name in handle.keys():
                tensor = handle.get_slice(name) if self.safetensors else handle[name]
                shape = tuple(tensor.get_shape() if self.safetensors else tensor.shape)
                found[name] = (shape, _dtype(tensor.get_dtype()) if self.safetensors else tensor.dtype)
        return found

    def read_fp32(self) -> Iterator[tuple[str, torch.Tensor]]:
        """(name, tensor) of every tensor, shard by shard; floating tensors in fp32."""
        for _, handle in self._opened():
            for name in list(handle.keys()):
                tensor = handle.get_tensor(name) if self.safetensors else handle[name]
                yield name, (tensor.float() if tensor.is_floating_point() else tensor).contiguous()

    def _opened(self):
        for path in self.files:
            try:
                if self.safetensors:
                    from safetensors import safe_open

                    with safe_open(str(path), framework="pt") as handle:
                        yield path, handle
                else:
                    yield path, _load_weights_only(path)
            except HFCheckpointError:
                raise
            except Exception as error:  # safetensors raises several types for damaged files
                raise HFCheckpointError(f"{path}: cannot read weights: {_first_line(error)}") from None


def open_checkpoint(source: Path) -> HFCheckpoint:
    """The weight files of `source`: safetensors first, else pickle-free torch files."""
    for index, single, is_safetensors in ((SAFETENSORS_INDEX, SAFETENSORS, True), (PICKLED_INDEX, PICKLED, False)):
        if (source / index).is_file():
            return HFCheckpoint(source, shards_of(source / index), is_safetensors)
        if (source / single).is_file():
            return HFCheckpoint(source, [single], is_safetensors)
    others = sorted(path.name for pattern in ("*.bin", "*.pt", "*.pth", "*.ckpt") for path in source.glob(pattern))
    if others:
        raise HFCheckpointError(
            f"{source}: no {SAFETENSORS} nor {PICKLED}; {', '.join(others)} are not read (pickle); "
            "re-save with save_pretrained(path, safe_serialization=True)"
        )
    raise HFCheckpointError(f"{source}: no {SAFETENSORS} (nor {SAFETENSORS_INDEX}, nor {PICKLED})")


def shards_of(index: Path) -> list[str]:
    """The shard files an index names, each a file of the index's folder."""
    try:
        data = json.loads(index.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise HFCheckpointError(f"{index}: not valid JSON ({_first_line(error)})") from None
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise HFCheckpointError(f"{index}: expected an object with a non-empty 'weight_map' of tensor → file")
    shards = sorted(set(weight_map.values()), key=str)
    for shard in shards:
        if not isinstance(shard, str) or Path(shard).name != shard:
            raise HFCheckpointError(f"{index}: weight_map names {shard!r}; allowed: a file name in {index.parent}")
        if not (index.parent / shard).is_file():
            raise HFCheckpointError(f"{index}: names {shard}, which is not in {index.parent}")
    return shards


def _load_weights_only(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as error:  # UnpicklingError for any object weights_only refuses
        raise HFCheckpointError(
            f"{path}: refused: not loadable with torch.load(weights_only=True) "
            f"({_first_line(error)[:120]}); re-save as safetensors"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(t, torch.Tensor) for t in state.values()):
        raise HFCheckpointError(f"{path}: expected a dict of tensor name → tensor")
    return state


def _dtype(name: str) -> torch.dtype:
    names = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
             "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
             "BOOL": torch.bool}
    return names.get(name, torch.float32)


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
