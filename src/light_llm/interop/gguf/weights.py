"""A GGUF file's tensors under their Hugging Face names, fp32, in Hugging Face layout
(llama.cpp's Q/K row order undone where its converter applied it), and the reverse: a
Hugging Face state dict under llama.cpp's names and row order, for an export."""

from __future__ import annotations

from typing import Callable

import torch

from light_llm.interop.gguf.architectures import GGUFArchitecture
from light_llm.interop.gguf.dequantize import dequantize_fp32
from light_llm.interop.gguf.file import GGUFError, GGUFFile
from light_llm.interop.gguf.rope_order import permute_heads, unpermute_heads
from light_llm.interop.gguf.tensor_names import gguf_name, hf_name


def hf_shapes(file: GGUFFile, arch: GGUFArchitecture) -> dict[str, tuple[tuple[int, ...], str]]:
    """Hugging Face name → (shape, GGML type) of every tensor, from the header alone."""
    shapes = {}
    for name in file.tensors:
        hf, shape = hf_name(name, arch), file.hf_shape(name)
        shapes[hf] = (shape[::-1] if _is_conv1d(hf, arch) else shape, file.type_name(name))
    return shapes


def read_hf_state(
    file: GGUFFile, arch: GGUFArchitecture, config: dict, wanted: set[str],
    on_tensor: Callable[[int], None] = lambda done: None,
) -> dict[str, torch.Tensor]:
    """The tensors whose Hugging Face names are in `wanted`, dequantized one at a time;
    `on_tensor(done)` after each."""
    state = {}
    for name in file.tensors:
        hf = hf_name(name, arch)
        if hf in wanted:
            tensor = _reordered(_conv1d(dequantize_fp32(file, name), hf, arch), hf, arch, config, unpermute_heads)
            state[hf] = tensor - arch.norm_offset if _is_norm(name, arch) else tensor
            on_tensor(len(state))
    return state


def gguf_state(hf_state: dict[str, torch.Tensor], arch: GGUFArchitecture, config: dict) -> dict[str, torch.Tensor]:
    """llama.cpp name → tensor of a Hugging Face state dict of `arch`'s family, in llama.cpp's
    row order; a name outside tensor_names.py's table is a GGUFError naming it."""
    state = {}
    for hf, tensor in hf_state.items():
        name = gguf_name(hf, arch)
        if name == hf:
            raise GGUFError(f"{hf} has no llama.cpp name in interop/gguf/tensor_names.py")
        tensor = _reordered(_conv1d(tensor, hf, arch), hf, arch, config, permute_heads)
        state[name] = tensor + arch.norm_offset if _is_norm(name, arch) else tensor
    return state


def _conv1d(tensor: torch.Tensor, hf: str, arch: GGUFArchitecture) -> torch.Tensor:
    """A Conv1D weight ([in, out]) in nn.Linear's layout, as llama.cpp stores it, and back."""
    return tensor.T.contiguous() if _is_conv1d(hf, arch) else tensor


def _is_conv1d(hf: str, arch: GGUFArchitecture) -> bool:
    return bool(arch.transposed) and hf.endswith(arch.transposed)


def _is_norm(name: str, arch: GGUFArchitecture) -> bool:
    """A norm weight whose llama.cpp value is offset from Hugging Face's (Gemma's 1 + w)."""
    return arch.norm_offset != 0.0 and name.endswith("norm.weight")


def _reordered(tensor: torch.Tensor, hf: str, arch: GGUFArchitecture, config: dict, order) -> torch.Tensor:
    if not arch.permuted_qk:
        return tensor
    if ".self_attn.q_proj." in hf:
        return order(tensor, config["num_attention_heads"])
    if ".self_attn.k_proj." in hf:
        return order(tensor, config["num_key_value_heads"])
    return tensor
