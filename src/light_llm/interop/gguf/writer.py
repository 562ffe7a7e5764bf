"""A GGUF file written with llama.cpp's own writer (`gguf.GGUFWriter`): the architecture's
metadata (config.py), the tensors under llama.cpp's names (weights.py) in the chosen type
(`gguf.quants`: llama.cpp's numpy quantizers), and the vocabulary (vocabulary.py), its
special tokens and chat template.

As llama.cpp's converter does, vectors (norms, biases) stay F32 and matrices take the
file's type; a matrix whose rows do not split into the type's blocks falls back to F16."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from light_llm.interop.gguf.vocabulary import GGUFVocabulary

# --gguf-type → (GGML type of the matrices, general.file_type's name in gguf.LlamaFileType)
FILE_TYPES = {
    "f32": ("F32", "ALL_F32"),
    "f16": ("F16", "MOSTLY_F16"),
    "bf16": ("BF16", "MOSTLY_BF16"),
    "q8_0": ("Q8_0", "MOSTLY_Q8_0"),
    "q5_1": ("Q5_1", "MOSTLY_Q5_1"),
    "q5_0": ("Q5_0", "MOSTLY_Q5_0"),
    "q4_1": ("Q4_1", "MOSTLY_Q4_1"),
    "q4_0": ("Q4_0", "MOSTLY_Q4_0"),
}
FALLBACK = "F16"


@dataclass(frozen=True)
class SpecialIds:
    """tokenizer.ggml.{bos,eos,eot,padding}_token_id, None where the tokenizer has none."""

    bos: int | None = None
    eos: int | None = None
    eot: int | None = None
    padding: int | None = None


@dataclass
class Written:
    tensor_types: dict[str, int] = field(default_factory=dict)  # GGML type → tensors
    fallbacks: list[str] = field(default_factory=list)  # matrices kept in FALLBACK


def write_gguf(
    path: Path, architecture: str, metadata: dict[str, int | float | str | list[bool]],
    tensors: dict[str, torch.Tensor], vocabulary: GGUFVocabulary, specials: SpecialIds, chat_template: str | None,
    file_type: str, name: str, provenance: dict[str, str],
) -> Written:
    """Writes the file at `path` (its folder must exist); `metadata`: config.gguf_metadata;
    `provenance`: string keys that say where the file comes from (light_llm.spec, ...)."""
    from gguf import GGMLQuantizationType, GGUFWriter, LlamaFileType

    matrix_type, file_type_name = FILE_TYPES[file_type]
    writer = GGUFWriter(str(path), architecture)
    writer.add_name(name)
    writer.add_file_type(LlamaFileType[file_type_name].value)
    for key, value in metadata.items():
        adds = {str: writer.add_string, float: writer.add_float32, int: writer.add_uint32, list: writer.add_array}
        adds[type(value)](key, value)
    for key, text in provenance.items():
        writer.add_string(key, text)
    _write_vocabulary(writer, vocabulary, specials, chat_template)
    written = Written()
    types = Counter()
    for tensor_name, tensor in tensors.items():
        data, kind = _encoded(tensor, GGMLQuantizationType[matrix_type])
        if tensor.dim() > 1 and kind.name != matrix_type:
            written.fallbacks.append(tensor_name)
        writer.add_tensor(tensor_name, data, raw_dtype=kind)
        types[kind.name] += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    written.tensor_types = dict(types.most_common())
    return written


def _write_vocabulary(writer, vocabulary: GGUFVocabulary, specials: SpecialIds, chat_template: str | None) -> None:
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(vocabulary.pre)
    writer.add_token_list(vocabulary.tokens)
    writer.add_token_types(vocabulary.token_types)
    writer.add_token_merges(vocabulary.merges)
    for role in ("bos", "eos", "eot"):
        if (index := getattr(specials, role)) is not None:
            getattr(writer, f"add_{role}_token_id")(index)
    if specials.padding is not None:
        writer.add_pad_token_id(specials.padding)
    writer.add_add_bos_token(vocabulary.add_bos)
    writer.add_add_eos_token(vocabulary.add_eos)
    if chat_template is not None:
        writer.add_chat_template(chat_template)


def _encoded(tensor: torch.Tensor, matrix_type):
    """(array, GGML type): a vector in F32, a matrix in `matrix_type` (F16 where its rows do
    not split into the type's blocks)."""
    from gguf import GGMLQuantizationType
    from gguf.quants import QuantError, quantize

    values = np.ascontiguousarray(tensor.detach().to(torch.float32).numpy())
    if tensor.dim() == 1 or matrix_type == GGMLQuantizationType.F32:
        return values, GGMLQuantizationType.F32
    try:
        return quantize(values, matrix_type), matrix_type
    except QuantError:
        return quantize(values, GGMLQuantizationType.F16), GGMLQuantizationType.F16
