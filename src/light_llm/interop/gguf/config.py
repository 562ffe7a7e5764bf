"""A GGUF file's metadata (llama.cpp's key names under the architecture's prefix) → the
Hugging Face config dict of its family, which the mapping objects of interop/hf/ turn into
a spec. What the metadata states that the family cannot express is a GGUFError naming it."""

from __future__ import annotations

from typing import Any

from light_llm.interop.gguf.architectures import GGUFArchitecture
from light_llm.interop.gguf.file import GGUFError, GGUFFile


def hf_config(file: GGUFFile, arch: GGUFArchitecture) -> dict[str, Any]:
    """The config.json (as a dict) of the model in `file`."""
    def key(name: str, default: Any = None) -> Any:
        value = file.get(f"{arch.name}.{name}", default)
        if isinstance(value, list):  # llama.cpp writes per-layer arrays for some models
            raise GGUFError(f"{file.path}: {arch.name}.{name} differs per layer ({_short(value)}); "
                            f"light_llm's {arch.model_type} mapping has one value for all layers")
        return value

    def required(name: str) -> Any:
        value = key(name)
        if value is None:
            raise GGUFError(f"{file.path}: metadata key {arch.name}.{name} is missing")
        return value

    hidden, heads = required("embedding_length"), required("attention.head_count")
    head_dim = key("attention.key_length", hidden // heads)
    _check_rope(file, arch, key, head_dim)
    config = {
        "model_type": arch.model_type,
        "vocab_size": key("vocab_size") or _vocab_size(file),
        "hidden_size": hidden,
        "intermediate_size": required("feed_forward_length"),
        "num_hidden_layers": required("block_count"),
        "num_attention_heads": heads,
        "num_key_value_heads": key("attention.head_count_kv", heads),
        "head_dim": head_dim,
        "max_position_embeddings": required("context_length"),
        "rms_norm_eps": required("attention.layer_norm_rms_epsilon"),
        "rope_theta": key("rope.freq_base", 10000.0),
        "hidden_act": "silu",
        "tie_word_embeddings": "output.weight" not in file.tensors,
    }
    if arch.model_type in ("llama", "qwen3"):  # qwen2's q/k/v biases are fixed by its architecture
        config["attention_bias"] = "blk.0.attn_q.bias" in file.tensors
    if arch.model_type == "llama":
        config["mlp_bias"] = "blk.0.ffn_up.bias" in file.tensors
    return config


def _check_rope(file: GGUFFile, arch: GGUFArchitecture, key, head_dim: int) -> None:
    value_length = key("attention.value_length", head_dim)
    if value_length != head_dim:
        raise GGUFError(f"{file.path}: {arch.name}.attention.value_length={value_length} differs from "
                        f"key_length={head_dim}; light_llm's heads have one size for keys and values")
    rotary = key("rope.dimension_count", head_dim)
    if rotary != head_dim:
        raise GGUFError(f"{file.path}: {arch.name}.rope.dimension_count={rotary} rotates part of each "
                        f"head of {head_dim}; the {arch.model_type} mapping rotates whole heads")
    scaling = key("rope.scaling.type", "none")
    if scaling != "none":
        raise GGUFError(f"{file.path}: {arch.name}.rope.scaling.type={scaling!r}: RoPE scaling from GGUF "
                        f"metadata is not imported (transformers' GGUF reader, the reference that verifies "
                        f"an import, ignores it); supported: none")
    if "rope_freqs.weight" in file.tensors:
        raise GGUFError(f"{file.path}: tensor rope_freqs.weight (per-frequency RoPE factors, llama3-style "
                        f"scaling) is not imported; supported: unscaled RoPE")


def _vocab_size(file: GGUFFile) -> int:
    tokens = file.get("tokenizer.ggml.tokens")
    if tokens:
        return len(tokens)
    if "token_embd.weight" in file.tensors:
        return file.hf_shape("token_embd.weight")[0]
    raise GGUFError(f"{file.path}: no vocabulary size (no vocab_size key, tokens or token_embd.weight)")


def _short(values: list) -> str:
    return ", ".join(map(str, values[:4])) + (", …" if len(values) > 4 else "")
