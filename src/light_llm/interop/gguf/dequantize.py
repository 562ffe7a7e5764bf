"""GGUF tensors → fp32 torch tensors, one at a time, with llama.cpp's own dequantizers
(`gguf.quants.dequantize`: F32, F16, BF16, Q4_0 … Q8_0, the K-quants and the IQ types)."""

from __future__ import annotations

import numpy as np
import torch

from light_llm.interop.gguf.file import GGUFError, GGUFFile


def dequantizable_types() -> tuple[str, ...]:
    """The GGML tensor types the installed `gguf` package can turn into floats."""
    from gguf import GGMLQuantizationType
    from gguf.quants import _type_traits  # the dequantizer table of gguf.quants

    found = {GGMLQuantizationType.F32, GGMLQuantizationType.F16, *_type_traits}
    return tuple(kind.name for kind in GGMLQuantizationType if kind in found)


def dequantize_fp32(file: GGUFFile, name: str) -> torch.Tensor:
    """The tensor `name` of `file` as a new fp32 tensor of its PyTorch shape."""
    from gguf.quants import dequantize

    tensor = file.tensors[name]
    try:
        values = dequantize(tensor.data, tensor.tensor_type)
    except NotImplementedError:
        raise GGUFError(f"{file.path}: tensor {name} is of type {tensor.tensor_type.name}, which the gguf "
                        f"package cannot dequantize; supported: {', '.join(dequantizable_types())}") from None
    values = np.ascontiguousarray(values, dtype=np.float32).reshape(file.hf_shape(name))
    return torch.from_numpy(values.copy() if not values.flags.writeable else values)
