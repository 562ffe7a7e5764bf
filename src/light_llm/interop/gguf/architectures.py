"""The GGUF architectures light_llm imports and exports (`general.architecture`), each
read and written as the Hugging Face family whose mapping object (interop/hf/) takes it:
the same spec path and the same parity gate as a Hugging Face folder.

Each entry says how llama.cpp's form of the family differs from Hugging Face's: its tensor
names (tensor_names.py's shared table, with the entry's own names first), Q/K row order,
norm weights stored as 1 + w (Gemma), the metadata keys beyond the shared ones, and `needs`:
what llama.cpp's graph of the architecture fixes beyond the Hugging Face family (the
activation, the sliding-window layers, RoPE unscaled or linearly scaled, ...). Where transformers' GGUF reader
verifies the file, an export also meets what it reads (heads spanning d_model)."""

from __future__ import annotations

from dataclasses import dataclass

from light_llm.interop.attention_needs import attention_bias, attention_scale, final_logit_softcap, logit_softcap
from light_llm.interop.gguf.file import GGUFError
from light_llm.interop.hf.base import FFN, MASK, Need, block


def _rope_scaling(ir) -> str | None:
    return _scaling_of(ir.positional)


def _scaling_of(positional) -> str | None:
    """None, 'linear' (a factor: llama.cpp's rope.scaling.factor) or the rule's type."""
    if positional.rope_scaling_rule is not None:
        return positional.rope_scaling_rule.type
    return None if positional.rope_scaling == 1.0 else "linear"


def _head_dim(ir) -> str | int:
    attention = block(ir).attention
    return "auto" if attention.num_heads * attention.head_dim == ir.d_model else attention.head_dim


def _sliding_layers(ir) -> str:
    """Which layers attend through a sliding window: 'none', 'even layers' (0, 2, ...: the
    alternation llama.cpp's gemma2 graph fixes) or their list."""
    sliding = [index for index, b in enumerate(ir.blocks) if b.attention.mask_type == "sliding_window"]
    if not sliding:
        return "none"
    return "even layers" if sliding == list(range(0, ir.num_layers, 2)) else f"layers {sliding}"


def _rope_scaled_layers(ir) -> str:
    """'global layers only' unless a sliding layer's RoPE is scaled (no positional.sliding_rope_base
    under a scaled rope): llama.cpp rotates its sliding layers unscaled."""
    sliding = [b.attention.positional for b in ir.blocks if b.attention.mask_type == "sliding_window"]
    scaled = any(_scaling_of(positional) is not None for positional in sliding)
    return "on sliding layers" if scaled else "global layers only"


def _gemma3_scale(ir) -> str | float:
    """'llama.cpp's' where the attention scale is the one llama.cpp's gemma3 graph fixes:
    1/sqrt(head_dim), but 1/sqrt(d_model / heads) for 62 layers (Gemma 3 27B), else the number."""
    attention = block(ir).attention
    size = ir.d_model // attention.num_heads if ir.num_layers == GEMMA3_27B_LAYERS else attention.head_dim
    return "llama.cpp's" if abs(attention.score_scale - size ** -0.5) < 1e-9 else attention.score_scale


def _cap(value: float | None) -> str | None:
    return None if value is None else "a cap"


CAUSAL = Need("model.attention.mask_type", MASK, ("causal",))
ROPE = Need("model.positional.rope_scaling", _rope_scaling, (None, "linear"))  # llama3/yarn: not written
NO_ATTENTION_BIAS = Need("model.attention.bias", attention_bias, (False,))
SWIGLU = (Need("model.ffn.variant", FFN, ("swiglu",)),
          Need("model.ffn.activation", lambda ir: block(ir).ffn.activation, ("silu",)))
TANH_GELU = Need("model.ffn.activation", lambda ir: block(ir).ffn.activation, ("gelu_tanh",))
TANH_GEGLU = (Need("model.ffn.variant", FFN, ("geglu",)),
              Need("model.ffn.activation", lambda ir: block(ir).ffn.activation, ("gelu_tanh",)))
TIED = Need("model.tie_embeddings", lambda ir: ir.tie_embeddings, (True,))  # gemma files have no output.weight
LLAMA_LIKE = (CAUSAL, *SWIGLU, ROPE)
GEMMA2 = (
    Need("model.attention.layer_pattern", _sliding_layers, ("none", "even layers")),
    *TANH_GEGLU, TIED, NO_ATTENTION_BIAS, ROPE,
    Need("model.attention.scale", attention_scale, ("auto",)),  # llama.cpp: 1/sqrt(head_dim)
    Need("model.attention.logit_softcap", lambda ir: _cap(logit_softcap(ir)), ("a cap",)),
    Need("model.final_logit_softcap", lambda ir: _cap(final_logit_softcap(ir)), ("a cap",)),
)
GEMMA3_27B_LAYERS = 62
GEMMA3 = (
    *TANH_GEGLU, TIED, NO_ATTENTION_BIAS, ROPE,
    Need("model.positional.rope_scaling", _rope_scaled_layers, ("global layers only",)),
    Need("model.attention.scale", _gemma3_scale, ("llama.cpp's",)),
    Need("model.attention.logit_softcap", logit_softcap, (None,)),
)
# where transformers verifies the file: its GGUF reader derives the head size from d_model
TRANSFORMERS_NEEDS = (Need("model.attention.head_dim", _head_dim, ("auto",)),)
GPT2_LAYER = (("attn_norm", "ln_1"), ("attn_qkv", "attn.c_attn"), ("attn_output", "attn.c_proj"),
              ("ffn_norm", "ln_2"), ("ffn_up", "mlp.c_fc"), ("ffn_down", "mlp.c_proj"))
GPT2_KEYS = (("context_length", "n_positions"), ("embedding_length", "n_embd"), ("feed_forward_length", "n_inner"),
             ("block_count", "n_layer"), ("attention.head_count", "n_head"),
             ("attention.layer_norm_epsilon", "layer_norm_epsilon"))
SANDWICH_NORMS = (("post_attention_norm", "post_attention_layernorm"), ("ffn_norm", "pre_feedforward_layernorm"),
                  ("post_ffw_norm", "post_feedforward_layernorm"))


@dataclass(frozen=True)
class GGUFArchitecture:
    name: str  # general.architecture, and the prefix of its metadata keys
    model_type: str  # the Hugging Face model_type (interop/hf/) that reproduces it
    permuted_qk: bool  # llama.cpp reorders the rows of Q and K (rope_order.py)
    # transformers' GGUF reader rebuilds the model from the file's metadata (its qwen3 reader
    # takes head_dim 128 whatever attention.key_length says): an export is verified by it
    transformers_reads: bool = True
    needs: tuple[Need, ...] = LLAMA_LIKE
    # (llama.cpp layer tensor, Hugging Face layer tensor) before tensor_names.PER_LAYER's
    tensors: tuple[tuple[str, str], ...] = ()
    norm_offset: float = 0.0  # llama.cpp's norm weight = Hugging Face's + this
    hidden_act: str = "silu"  # the Hugging Face config's, which the graph fixes
    # (metadata key under the prefix, config.json field, llama.cpp's default) beyond config.py's
    metadata: tuple[tuple[str, str, float | int | None], ...] = ()  # None: not written where the config has none
    fp16_gelu: bool = False  # the graph's GELU, which ggml's CPU computes through an fp16 table
    layer_prefix: str = "model.layers"  # of the Hugging Face names of layer N's tensors
    global_tensors: tuple[tuple[str, str], ...] = ()  # (llama.cpp, Hugging Face) before tensor_names.GLOBAL's
    transposed: tuple[str, ...] = ()  # Hugging Face names ending so hold Conv1D weights ([in, out])
    # (metadata key, config.json field) in place of config.py's Llama-style keys; () keeps those
    keys: tuple[tuple[str, str], ...] = ()
    # attention.sliding_window_pattern: which layers slide, one bool per layer (config.json's layer_types)
    sliding_pattern: bool = False


ARCHITECTURES = {
    entry.name: entry
    for entry in (
        # Mistral-style models (no sliding window) are converted by llama.cpp as "llama" too
        GGUFArchitecture("llama", "llama", permuted_qk=True),
        GGUFArchitecture("qwen2", "qwen2", permuted_qk=False),
        GGUFArchitecture("qwen3", "qwen3", permuted_qk=False, transformers_reads=False),
        # transformers has no olmo2 GGUF reader
        GGUFArchitecture("olmo2", "olmo2", permuted_qk=False, transformers_reads=False,
                         needs=LLAMA_LIKE + (NO_ATTENTION_BIAS,), tensors=SANDWICH_NORMS[::2]),
        # llama.cpp reads phi3's sliding window but attends to the whole context
        GGUFArchitecture("phi3", "phi3", permuted_qk=False,
                         tensors=(("attn_qkv", "self_attn.qkv_proj"), ("ffn_up", "mlp.gate_up_proj"))),
        GGUFArchitecture("gemma", "gemma", permuted_qk=False, transformers_reads=False,
                         needs=(CAUSAL, *TANH_GEGLU, TIED, NO_ATTENTION_BIAS, ROPE), norm_offset=1.0,
                         hidden_act="gelu_pytorch_tanh", fp16_gelu=True),
        # transformers' gemma2 reader leaves the soft-caps and query_pre_attn_scalar at Gemma 2's defaults
        GGUFArchitecture("gemma2", "gemma2", permuted_qk=False, transformers_reads=False, needs=GEMMA2,
                         tensors=SANDWICH_NORMS, norm_offset=1.0, hidden_act="gelu_pytorch_tanh", fp16_gelu=True,
                         metadata=(("attn_logit_softcapping", "attn_logit_softcapping", 50.0),
                                   ("final_logit_softcapping", "final_logit_softcapping", 30.0),
                                   ("attention.sliding_window", "sliding_window", 4096))),
        # sliding layers at rope.freq_base_swa, unscaled; the global ones at rope.freq_base with the scaling
        GGUFArchitecture("gemma3", "gemma3_text", permuted_qk=False, transformers_reads=False, needs=GEMMA3,
                         tensors=SANDWICH_NORMS, norm_offset=1.0, hidden_act="gelu_pytorch_tanh", fp16_gelu=True,
                         metadata=(("final_logit_softcapping", "final_logit_softcapping", None),
                                   ("attention.sliding_window", "sliding_window", None),  # none: no layer slides
                                   ("rope.freq_base_swa", "rope_local_base_freq", 10000.0)),
                         sliding_pattern=True),
        # transformers' gpt2 reader takes n_ctx for the context, which GPT2Config no longer reads
        GGUFArchitecture("gpt2", "gpt2", permuted_qk=False, transformers_reads=False, needs=(TANH_GELU,),
                         fp16_gelu=True, layer_prefix="transformer.h", tensors=GPT2_LAYER, keys=GPT2_KEYS,
                         global_tensors=(("token_embd", "transformer.wte"), ("position_embd", "transformer.wpe"),
                                         ("output_norm", "transformer.ln_f")),
                         transposed=tuple(f"{name}.weight" for _, name in GPT2_LAYER if "." in name)),
    )
}

# why transformers' GGUF reader cannot verify an import of these (a note says so)
UNVERIFIED_IMPORTS = {
    "olmo2": "it has no GGUF reader for olmo2",
    "gemma": "it has no GGUF reader for gemma",
    "gemma2": "its GGUF reader leaves Gemma 2's soft-caps and query_pre_attn_scalar at their defaults",
    "gemma3": "its GGUF reader leaves Gemma 3's query_pre_attn_scalar, layer pattern and local RoPE base "
              "at their defaults",
    "gpt2": "its GGUF reader puts the context length in n_ctx, which GPT2Config ignores",
}


NOT_A_DECODER = "not a decoder-only Transformer"
HF_ONLY = "light_llm maps this family from Hugging Face folders, not yet from llama.cpp's tensor layout"
MIXTURE = "a mixture of experts has no light_llm equivalent"
BLOCKERS = {  # why a known architecture is refused; others: not a layout light_llm maps from GGUF
    **{name: f"{NOT_A_DECODER} (a recurrent or state-space model)" for name in ("mamba", "mamba2", "rwkv6", "rwkv7")},
    **{name: f"{NOT_A_DECODER} (an encoder)" for name in ("bert", "nomic-bert", "jina-bert-v2", "t5", "t5encoder")},
    **{name: HF_ONLY for name in ("gptneox", "phi2", "starcoder2")},
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
        needs = entry.needs + (TRANSFORMERS_NEEDS if entry.transformers_reads else ())
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
