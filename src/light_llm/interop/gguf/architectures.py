"""The GGUF architectures light_llm imports and exports (`general.architecture`), each
read and written as the Hugging Face family whose mapping object (interop/hf/) takes it:
the same spec path and the same parity gate as a Hugging Face folder.

An export also meets `GGUF_NEEDS`: what llama.cpp's graph of these architectures fixes
beyond the Hugging Face family (no sliding window, a SiLU gate, RoPE unscaled), and where
transformers' GGUF reader verifies the file, what it reads (heads spanning d_model)."""

from __future__ import annotations

from dataclasses import dataclass

from light_llm.interop.gguf.file import GGUFError
from light_llm.interop.hf.base import FFN, MASK, Need, block


@dataclass(frozen=True)
class GGUFArchitecture:
    name: str  # general.architecture, and the prefix of its metadata keys
    model_type: str  # the Hugging Face model_type (interop/hf/) that reproduces it
    permuted_qk: bool  # llama.cpp reorders the rows of Q and K (rope_order.py)
    # transformers' GGUF reader rebuilds the model from the file's metadata (its qwen3 reader
    # takes head_dim 128 whatever attention.key_length says): an export is verified by it
    transformers_reads: bool = True


ARCHITECTURES = {
    entry.name: entry
    for entry in (
        # Mistral-style models (no sliding window) are converted by llama.cpp as "llama" too
        GGUFArchitecture("llama", "llama", permuted_qk=True),
        GGUFArchitecture("qwen2", "qwen2", permuted_qk=False),
        GGUFArchitecture("qwen3", "qwen3", permuted_qk=False, transformers_reads=False),
    )
}


def _rope_scaling(ir) -> str | float | None:
    rule = ir.positional.rope_scaling_rule
    if rule is not None:
        return rule.type
    return None if ir.positional.rope_scaling == 1.0 else ir.positional.rope_scaling


def _head_dim(ir) -> str | int:
    attention = block(ir).attention
    return "auto" if attention.num_heads * attention.head_dim == ir.d_model else attention.head_dim


GGUF_NEEDS = (
    Need("model.attention.mask_type", MASK, ("causal",)),  # llama.cpp's llama/qwen graphs have no window
    Need("model.ffn.variant", FFN, ("swiglu",)),
    Need("model.ffn.activation", lambda ir: block(ir).ffn.activation, ("silu",)),
    # RoPE scaling metadata is not written (and transformers' GGUF reader ignores it)
    Need("model.positional.rope_scaling", _rope_scaling, (None,)),
)
# where transformers verifies the file: its GGUF reader derives the head size from d_model
TRANSFORMERS_NEEDS = (Need("model.attention.head_dim", _head_dim, ("auto",)),)


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


def export_blockers(ir) -> dict[str, list[str]]:
    """Per GGUF architecture, every option of `ir` it cannot express (empty: it fits), in
    the words of interop/hf's blockers: "path=value (ARCH needs X)"."""
    from light_llm.interop.hf import unmappable_options
    from light_llm.interop.hf.base import unmet

    hf_blocked = unmappable_options(ir)
    found = {}
    for entry in ARCHITECTURES.values():
        needs = GGUF_NEEDS + (TRANSFORMERS_NEEDS if entry.transformers_reads else ())
        own = unmet(needs, ir, entry.name) if getattr(ir, "family", None) == "transformer" else []
        options = {reason.partition("=")[0] for reason in own}
        inherited = [reason.replace(f"({entry.model_type} needs", f"({entry.name} needs")
                     for reason in hf_blocked[entry.model_type] if reason.partition("=")[0] not in options]
        found[entry.name] = inherited + own
    return found


def export_architecture(ir, preferred: str | None = None) -> GGUFArchitecture | None:
    """The GGUF architecture to write: the Hugging Face family `preferred` (an import's
    own) where it has one and fits, else the first that fits; None where none does."""
    blocked = export_blockers(ir)
    fits = [ARCHITECTURES[name] for name, reasons in blocked.items() if not reasons]
    return next((entry for entry in fits if entry.model_type == preferred), fits[0] if fits else None)
