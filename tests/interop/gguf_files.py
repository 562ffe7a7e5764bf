"""Small GGUF files for the tests, written with llama.cpp's own `gguf.GGUFWriter` from a
randomly initialised transformers model, the way llama.cpp's converter writes them: its
tensor names, Q/K rows of llama interleaved head by head, metadata under the
architecture's prefix, and a tiny byte-level BPE tokenizer with a chat template."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from light_llm.tokenizer import byte_to_unicode

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MERGES = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r"]
CHAT_TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] "
                 "+ '<|im_end|>\n'}}{% endfor %}"
                 "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
LAYER_PARTS = {  # Hugging Face module → llama.cpp name, per layer
    "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
    "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
}


SPM_SPECIALS = ["<unk>", "<s>", "</s>"]
SPM_PIECES = ["▁", "t", "h", "e", "a", "i", "n", "r", "s", "o", "l", "▁t", "he", "▁the", "in", "▁a", "er",
              "▁i", "▁in", "ll", "▁he", "▁hell", "ello", "hello", "▁hello", "he"]  # a repeated piece too


USER_DEFINED = "<think>"  # an added token that is not special


def tokens() -> list[str]:
    """Special tokens, the 256 bytes in GPT-2's alphabet, one token per merge, an added token."""
    return (SPECIALS + list(byte_to_unicode().values()) + [merge.replace(" ", "") for merge in MERGES]
            + [USER_DEFINED])


def spm_tokens() -> list[str]:
    """A SentencePiece vocabulary as llama.cpp stores it: specials, <0xNN> bytes, pieces."""
    return SPM_SPECIALS + [f"<0x{byte:02X}>" for byte in range(256)] + SPM_PIECES


def llama_cpp_permute(weight: torch.Tensor, heads: int) -> torch.Tensor:
    """llama.cpp's converter on a Llama q/k tensor: within each head, the rows of the two
    halves interleaved (row j of the first half, then row j of the second)."""
    halves = weight.reshape(heads, 2, weight.shape[0] // heads // 2, *weight.shape[1:])
    return halves.transpose(1, 2).reshape(weight.shape)


def gguf_tensors(model, architecture: str) -> dict[str, np.ndarray]:
    """llama.cpp name → fp32 array of a transformers Llama/Qwen2/Qwen3 model."""
    config = model.config
    found = {}
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight" and config.tie_word_embeddings:
            continue
        if architecture == "llama" and ".q_proj." in name:
            tensor = llama_cpp_permute(tensor, config.num_attention_heads)
        if architecture == "llama" and ".k_proj." in name:
            tensor = llama_cpp_permute(tensor, config.num_key_value_heads)
        found[_gguf_name(name)] = tensor.detach().float().numpy()
    return found


def _gguf_name(name: str) -> str:
    fixed = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
             "lm_head.weight": "output.weight"}
    if name in fixed:
        return fixed[name]
    _, _, layer, rest = name.split(".", 3)
    module, kind = rest.rsplit(".", 1)
    return f"blk.{layer}.{LAYER_PARTS[module]}.{kind}"


def write_gguf(path: Path, model, architecture: str = "llama", types: dict[str, str] | None = None,
               tensors: dict[str, np.ndarray] | None = None, metadata: dict | None = None,
               tokenizer: str | None = "gpt2") -> Path:
    """`model` as llama.cpp would write it. `types`: GGML type per tensor name suffix
    ("weight" for every 2-D weight: F32, F16, Q8_0…; 1-D tensors stay F32); `tensors`
    replaces the converted ones (drop or reshape one for a bad file); `metadata` overrides
    keys by their full name ("llama.context_length"; a value None removes the key);
    `tokenizer`: "gpt2" (byte-level BPE, tokens()), "llama" (SentencePiece, spm_tokens()) or None."""
    import gguf

    config = model.config
    tensors = gguf_tensors(model, architecture) if tensors is None else tensors
    writer = gguf.GGUFWriter(path, architecture)
    keys = {
        "block_count": config.num_hidden_layers, "context_length": config.max_position_embeddings,
        "embedding_length": config.hidden_size, "feed_forward_length": config.intermediate_size,
        "attention.head_count": config.num_attention_heads, "attention.head_count_kv": config.num_key_value_heads,
        "attention.layer_norm_rms_epsilon": float(config.rms_norm_eps),
        "rope.freq_base": float(config.rope_parameters["rope_theta"]),
        "rope.dimension_count": getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads,
        "vocab_size": config.vocab_size,
    }
    if architecture == "qwen3":
        keys["attention.key_length"] = keys["attention.value_length"] = config.head_dim
    for key, value in ({f"{architecture}.{key}": value for key, value in keys.items()} | (metadata or {})).items():
        if value is not None:
            _add(writer, key, value)
    if tokenizer == "gpt2":
        _add_tokenizer(writer)
    elif tokenizer == "llama":
        _add_sentencepiece(writer)
    for name, array in tensors.items():
        kind = (types or {}).get("weight", "F32") if array.ndim == 2 else "F32"
        qtype = gguf.GGMLQuantizationType[kind]
        data = gguf.quants.quantize(array.astype(np.float32), qtype)
        writer.add_tensor(name, data, raw_dtype=qtype if kind not in ("F32", "F16") else None)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _add(writer, key: str, value) -> None:
    if isinstance(value, bool):
        writer.add_bool(key, value)
    elif isinstance(value, int):
        writer.add_uint32(key, value)
    elif isinstance(value, float):
        writer.add_float32(key, value)
    else:
        writer.add_string(key, value)


def _add_tokenizer(writer) -> None:
    listed = tokens()
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt2")
    writer.add_token_list(listed)
    writer.add_token_types([3 if token in SPECIALS else 4 if token == USER_DEFINED else 1 for token in listed])
    writer.add_token_merges(MERGES)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(0)
    writer.add_eot_token_id(2)
    writer.add_pad_token_id(0)
    writer.add_chat_template(CHAT_TEMPLATE)


def _add_sentencepiece(writer) -> None:
    listed = spm_tokens()
    writer.add_tokenizer_model("llama")
    writer.add_token_list(listed)
    pieces = len(SPM_SPECIALS) + 256
    # scores rank the pieces (later, lower); llama.cpp keeps no merges for SentencePiece
    writer.add_token_scores([0.0] * pieces + [-float(rank) for rank in range(len(SPM_PIECES))])
    writer.add_token_types([2, 3, 3] + [6] * 256 + [1] * len(SPM_PIECES))
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
