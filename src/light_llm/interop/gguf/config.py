"""A GGUF file's metadata (llama.cpp's key names under the architecture's prefix) → the
Hugging Face config dict of its family, which the mapping objects of interop/hf/ turn into
a spec. What the metadata states that the family cannot express is a GGUFError naming it."""

from __future__ import annotations

from typing import Any

from light_llm.interop.gguf.architectures import GEMMA3_27B_LAYERS, GGUFArchitecture
from light_llm.interop.gguf.file import GGUFError, GGUFFile


# (llama.cpp key under the architecture's prefix, config.json field): read by an import
# (REQUIRED must be present; DERIVED have defaults), all written by an export
REQUIRED = (
    ("embedding_length", "hidden_size"),
    ("feed_forward_length", "intermediate_size"),
    ("block_count", "num_hidden_layers"),
    ("attention.head_count", "num_attention_heads"),
    ("context_length", "max_position_embeddings"),
    ("attention.layer_norm_rms_epsilon", "rms_norm_eps"),
)
DERIVED = (
    ("vocab_size", "vocab_size"),
    ("attention.head_count_kv", "num_key_value_heads"),
    ("attention.key_length", "head_dim"),
    ("attention.value_length", "head_dim"),
    ("rope.dimension_count", "head_dim"),
    ("rope.freq_base", "rope_theta"),
)
SLIDING_PATTERN = 6  # llama.cpp's gemma3 default: every 6th layer global


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

    if arch.keys:
        return _own_keys_config(file, arch, required)
    config = {"model_type": arch.model_type, **{field: required(name) for name, field in REQUIRED}}
    heads = config["num_attention_heads"]
    head_dim = key("attention.key_length", config["hidden_size"] // heads)
    _check_rope(file, arch, key, head_dim)
    config |= {
        "vocab_size": key("vocab_size") or _vocab_size(file),
        "num_key_value_heads": key("attention.head_count_kv", heads),
        "head_dim": head_dim,
        "rope_theta": key("rope.freq_base", 10000.0),
        "hidden_act": arch.hidden_act,
        "tie_word_embeddings": "output.weight" not in file.tensors,
        **{field: key(name, default) for name, field, default in arch.metadata},
    }
    if key("rope.scaling.type", "none") == "linear":
        config["rope_scaling"] = {"rope_type": "linear", "factor": required("rope.scaling.factor")}
    if arch.model_type != "qwen2":  # qwen2's q/k/v biases are fixed by its architecture
        config["attention_bias"] = "blk.0.attn_q.bias" in file.tensors
    if arch.model_type == "llama":
        config["mlp_bias"] = "blk.0.ffn_up.bias" in file.tensors
    return config | _gemma2_fields(config) | _gemma3_fields(file, arch, config)


def _own_keys_config(file: GGUFFile, arch: GGUFArchitecture, required) -> dict[str, Any]:
    """The config.json of an architecture with keys of its own (gpt2: learned positions,
    LayerNorm, biases everywhere, GELU)."""
    return {"model_type": arch.model_type, **{field: required(name) for name, field in arch.keys},
            "vocab_size": _vocab_size(file), "activation_function": "gelu_new",
            "tie_word_embeddings": "output.weight" not in file.tensors}


def _gemma2_fields(config: dict[str, Any]) -> dict[str, Any]:
    """What llama.cpp's gemma2 graph fixes that Gemma 2's config.json states: the attention
    scale 1/sqrt(head_dim), the activation, and no window on any layer where the window
    spans the whole context (as an export of a model without one writes it)."""
    if config["model_type"] != "gemma2":
        return {}
    fields = {"query_pre_attn_scalar": config["head_dim"], "hidden_activation": config["hidden_act"]}
    if config["sliding_window"] >= config["max_position_embeddings"]:
        fields["layer_types"] = ["full_attention"] * config["num_hidden_layers"]
    return fields


def _gemma3_fields(file: GGUFFile, arch: GGUFArchitecture, config: dict[str, Any]) -> dict[str, Any]:
    """What llama.cpp's gemma3 graph fixes that Gemma 3's config.json states: the attention
    scale (1/sqrt(head_dim); 1/sqrt(d_model / heads) at Gemma 3 27B's 62 layers), the
    activation, and which layers slide (attention.sliding_window_pattern: a bool per layer,
    or every Nth layer global, 6 where absent; none without a sliding window)."""
    if not arch.sliding_pattern:
        return {}
    layers, window = config["num_hidden_layers"], config["sliding_window"]
    pattern = file.get(f"{arch.name}.attention.sliding_window_pattern", SLIDING_PATTERN)
    if isinstance(pattern, list):
        sliding = [bool(flag) for flag in pattern]
    else:
        sliding = [pattern == 0 or index % pattern < pattern - 1 for index in range(layers)]
    if not window:
        sliding, window = [False] * layers, config["max_position_embeddings"]
    size = config["hidden_size"] // config["num_attention_heads"] if layers == GEMMA3_27B_LAYERS else config["head_dim"]
    return {"query_pre_attn_scalar": size, "hidden_activation": config["hidden_act"], "sliding_window": window,
            "layer_types": ["sliding_attention" if flag else "full_attention" for flag in sliding]}


def gguf_metadata(config: dict[str, Any], arch: GGUFArchitecture) -> dict[str, int | float | str | list[bool]]:
    """The architecture's metadata keys (with their prefix) of a config.json dict: the
    inverse of `hf_config` (biases and tied embeddings are stated by the tensors)."""
    pairs = (arch.keys or REQUIRED + DERIVED) + tuple((name, field) for name, field, _ in arch.metadata)
    metadata = {f"{arch.name}.{name}": config[field] for name, field in pairs if config[field] is not None}
    if arch.sliding_pattern:
        metadata[f"{arch.name}.attention.sliding_window_pattern"] = [
            kind == "sliding_attention" for kind in config["layer_types"]]
    rope = config.get("rope_parameters") or {}
    rope = rope.get("full_attention", rope)  # per layer type (Gemma 3): the global layers' (the sliding: unscaled)
    if rope.get("rope_type") == "linear":
        metadata |= {f"{arch.name}.rope.scaling.type": "linear", f"{arch.name}.rope.scaling.factor": rope["factor"]}
    return metadata


def rope_scaled(file: GGUFFile) -> bool:
    """The file states RoPE scaling, which transformers' GGUF reader ignores."""
    return file.get(f"{file.architecture}.rope.scaling.type", "none") != "none"


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
    if scaling not in ("none", "linear"):
        raise GGUFError(f"{file.path}: {arch.name}.rope.scaling.type={scaling!r}: light_llm imports RoPE "
                        f"scaling from GGUF metadata only as a linear factor; supported: none, linear")
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
