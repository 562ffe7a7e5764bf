"""llama.cpp's tensor names → the Hugging Face *ForCausalLM names of the decoder-only
families that share Llama's layout (llama, qwen2, qwen3)."""

from __future__ import annotations

import re

GLOBAL = {
    "token_embd": "model.embed_tokens",
    "output_norm": "model.norm",
    "output": "lm_head",
}
PER_LAYER = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
LAYER_NAME = re.compile(r"blk\.(\d+)\.(\w+)\.(weight|bias)")
GLOBAL_NAME = re.compile(r"(\w+)\.(weight|bias)")


def hf_name(gguf_name: str) -> str:
    """The Hugging Face name of a llama.cpp tensor; a name outside the table is returned
    as it is (and later reported as a tensor the architecture does not explain)."""
    if match := LAYER_NAME.fullmatch(gguf_name):
        layer, part, kind = match.groups()
        return f"model.layers.{layer}.{PER_LAYER[part]}.{kind}" if part in PER_LAYER else gguf_name
    if match := GLOBAL_NAME.fullmatch(gguf_name):
        part, kind = match.groups()
        return f"{GLOBAL[part]}.{kind}" if part in GLOBAL else gguf_name
    return gguf_name


def gguf_name(hf: str) -> str:
    """The llama.cpp name of a Hugging Face tensor name (the inverse of `hf_name`)."""
    for ours, theirs in GLOBAL.items():
        if hf.startswith(theirs + "."):
            return ours + hf.removeprefix(theirs)
    if match := re.fullmatch(r"model\.layers\.(\d+)\.(.+)\.(weight|bias)", hf):
        layer, part, kind = match.groups()
        found = next((ours for ours, theirs in PER_LAYER.items() if theirs == part), None)
        if found is not None:
            return f"blk.{layer}.{found}.{kind}"
    return hf
