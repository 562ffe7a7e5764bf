"""The GGUF architectures light_llm imports (`general.architecture`), each read as the
Hugging Face family whose mapping object (interop/hf/) takes it: the same spec path and
the same parity gate as a Hugging Face folder."""

from __future__ import annotations

from dataclasses import dataclass

from light_llm.interop.gguf.file import GGUFError


@dataclass(frozen=True)
class GGUFArchitecture:
    name: str  # general.architecture, and the prefix of its metadata keys
    model_type: str  # the Hugging Face model_type (interop/hf/) that reproduces it
    permuted_qk: bool  # llama.cpp reorders the rows of Q and K (rope_order.py)


ARCHITECTURES = {
    entry.name: entry
    for entry in (
        # Mistral-style models (no sliding window) are converted by llama.cpp as "llama" too
        GGUFArchitecture("llama", "llama", permuted_qk=True),
        GGUFArchitecture("qwen2", "qwen2", permuted_qk=False),
        GGUFArchitecture("qwen3", "qwen3", permuted_qk=False),
    )
}


NOT_A_DECODER = "not a decoder-only Transformer"
HF_ONLY = "light_llm maps this family from Hugging Face folders, not yet from llama.cpp's tensor layout"
MIXTURE = "a mixture of experts has no light_llm equivalent"
BLOCKERS = {  # why a known architecture is refused; others: not a layout light_llm maps from GGUF
    **{name: f"{NOT_A_DECODER} (a recurrent or state-space model)" for name in ("mamba", "mamba2", "rwkv6", "rwkv7")},
    **{name: f"{NOT_A_DECODER} (an encoder)" for name in ("bert", "nomic-bert", "jina-bert-v2", "t5", "t5encoder")},
    **{name: HF_ONLY for name in ("gemma", "gemma2", "gpt2", "gptneox", "phi2", "phi3", "olmo2", "starcoder2")},
    **{name: MIXTURE for name in ("qwen2moe", "qwen3moe", "deepseek2", "olmoe", "granitemoe")},
}


def gguf_architecture(name: str, where: str) -> GGUFArchitecture:
    """The entry of `name`; an architecture outside the table is one GGUFError line naming
    it, what blocks it and the supported ones."""
    if name not in ARCHITECTURES:
        why = BLOCKERS.get(name, "not a layout light_llm maps from GGUF")
        raise GGUFError(f"{where}: GGUF architecture {name!r} cannot be imported ({why}); "
                        f"supported: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]
