"""llama.cpp's tensor names ↔ the Hugging Face *ForCausalLM names of the decoder-only
families of architectures.py: a shared table (Llama's layout), and an architecture's own
names (`GGUFArchitecture.tensors`, `.global_tensors`, `.layer_prefix`) before it."""

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


def layer_table(arch) -> dict[str, str]:
    """llama.cpp layer tensor → Hugging Face layer tensor for `arch`: its own names, then
    the shared ones that name neither side of its own."""
    own = dict(arch.tensors)
    taken = set(own.values())
    return own | {ours: theirs for ours, theirs in PER_LAYER.items() if ours not in own and theirs not in taken}


def global_table(arch) -> dict[str, str]:
    return GLOBAL | dict(arch.global_tensors)


def hf_name(gguf_name: str, arch) -> str:
    """The Hugging Face name of a llama.cpp tensor of `arch`; a name outside the table is
    returned as it is (and later reported as a tensor the architecture does not explain)."""
    if match := LAYER_NAME.fullmatch(gguf_name):
        layer, part, kind = match.groups()
        table = layer_table(arch)
        return f"{arch.layer_prefix}.{layer}.{table[part]}.{kind}" if part in table else gguf_name
    if match := GLOBAL_NAME.fullmatch(gguf_name):
        part, kind = match.groups()
        table = global_table(arch)
        return f"{table[part]}.{kind}" if part in table else gguf_name
    return gguf_name


def gguf_name(hf: str, arch) -> str:
    """The llama.cpp name of a Hugging Face tensor name of `arch` (the inverse of `hf_name`)."""
    for ours, theirs in global_table(arch).items():
        if hf.startswith(theirs + "."):
            return ours + hf.removeprefix(theirs)
    if match := re.fullmatch(re.escape(arch.layer_prefix) + r"\.(\d+)\.(.+)\.(weight|bias)", hf):
        layer, part, kind = match.groups()
        found = next((ours for ours, theirs in layer_table(arch).items() if theirs == part), None)
        if found is not None:
            return f"blk.{layer}.{found}.{kind}"
    return hf
