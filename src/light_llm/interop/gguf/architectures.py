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


def gguf_architecture(name: str, where: str) -> GGUFArchitecture:
    """The entry of `name`; an architecture outside the table is one GGUFError line naming
    it and the supported ones."""
    if name not in ARCHITECTURES:
        raise GGUFError(f"{where}: GGUF architecture {name!r} cannot be imported (light_llm maps only "
                        f"decoder-only models of Llama's layout from GGUF); supported: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]
