"""Hugging Face `transformers` interop: which architecture a model maps onto, its
`config.json`, and state-dict conversion both ways. Imports neither transformers nor
pydantic; works on the IR (`lower_spec(spec)` or `model.ir`), plain dicts and tensors.

Public API:

    hf_model_type(ir) -> str | None
        "llama", "mistral" or "gpt2": the architecture that reproduces this model exactly
        (same logits), or None.
    unmappable_options(ir) -> dict[str, list[str]]
        For every architecture, each spec option that prevents the mapping, e.g.
        {"gpt2": ["model.norm.type='rmsnorm' (gpt2 needs 'layernorm')", ...], ...};
        an empty list where the model maps.
    hf_config(ir, **extra) -> dict
        The `config.json` content (with "architectures" and "model_type"); `extra` adds
        fields such as bos_token_id / eos_token_id. Raises UnmappableSpec otherwise.
    to_hf_state_dict(ir, state) / from_hf_state_dict(ir, hf_state) -> dict[str, Tensor]
        Our parameter names ↔ the HF *ForCausalLM names. With tied embeddings both sides
        carry "lm_head.weight" as the embedding tensor (drop it before saving safetensors).
    model_section_from_hf_config(config) -> dict
        The spec's `model` section for an HF config dict (llama, mistral, gpt2), inverse of
        hf_config, for importing HF models.

Mappings (anything else is listed by unmappable_options):
- llama:   rmsnorm, pre-norm, sequential blocks, rope (linear scaling allowed), swiglu or
           geglu, causal mask, mha/gqa/mqa, d_model divisible by num_heads; biases map to
           attention_bias / mlp_bias.
- mistral: as llama, with mask_type sliding_window (HF keeps keys with q - k < window, as
           light_llm does) and no biases.
- gpt2:    layernorm, pre-norm, learned positions, mlp (gelu exact, relu or silu), mha with
           num_heads·head_dim = d_model, biases on attention and FFN, causal mask.
Dropout rates are copied where the architecture has them and never block a mapping: they
only matter while training, and the logits of an eval-mode model do not depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from light_llm.compiler.ir import BlockIR, TransformerIR
from light_llm.errors import LightLLMError

ARCHITECTURES = ("llama", "mistral", "gpt2")
HF_CLASSES = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "gpt2": "GPT2LMHeadModel"}


class UnmappableSpec(LightLLMError):
    """The model maps onto no Hugging Face architecture; `reasons` per architecture."""

    def __init__(self, reasons: dict[str, list[str]]):
        self.reasons = reasons
        lines = [f"{name}: {'; '.join(found)}" for name, found in reasons.items()]
        super().__init__("no Hugging Face architecture reproduces this model:\n  " + "\n  ".join(lines))


@dataclass(frozen=True)
class _Need:
    path: str  # the spec option
    actual: Callable[[TransformerIR], Any]
    allowed: tuple[Any, ...]


def _block(ir: TransformerIR) -> BlockIR:
    return ir.blocks[0]


_NORM_TYPE = lambda ir: _block(ir).norm.type  # noqa: E731
_PLACEMENT = lambda ir: _block(ir).placement  # noqa: E731
_PARALLEL = lambda ir: _block(ir).parallel  # noqa: E731
_ENCODING = lambda ir: ir.positional.encoding  # noqa: E731
_VARIANT = lambda ir: _block(ir).attention.variant  # noqa: E731
_MASK = lambda ir: _block(ir).attention.mask_type  # noqa: E731
_FFN = lambda ir: _block(ir).ffn.variant  # noqa: E731
_ATTN_BIAS = lambda ir: _block(ir).attention.bias  # noqa: E731
_FFN_BIAS = lambda ir: _block(ir).ffn.bias  # noqa: E731

_LLAMA_NEEDS = (
    _Need("model.norm.type", _NORM_TYPE, ("rmsnorm",)),
    _Need("model.norm.placement", _PLACEMENT, ("pre",)),
    _Need("model.parallel_layers", _PARALLEL, (False,)),
    _Need("model.positional.encoding", _ENCODING, ("rope",)),
    _Need("model.attention.variant", _VARIANT, ("mha", "gqa", "mqa")),
    _Need("model.ffn.variant", _FFN, ("swiglu", "geglu")),
)
NEEDS: dict[str, tuple[_Need, ...]] = {
    "llama": _LLAMA_NEEDS + (_Need("model.attention.mask_type", _MASK, ("causal",)),),
    "mistral": _LLAMA_NEEDS
    + (
        _Need("model.attention.mask_type", _MASK, ("sliding_window",)),
        _Need("model.attention.bias", _ATTN_BIAS, (False,)),
        _Need("model.ffn.bias", _FFN_BIAS, (False,)),
    ),
    "gpt2": (
        _Need("model.norm.type", _NORM_TYPE, ("layernorm",)),
        _Need("model.norm.placement", _PLACEMENT, ("pre",)),
        _Need("model.parallel_layers", _PARALLEL, (False,)),
        _Need("model.positional.encoding", _ENCODING, ("learned",)),
        _Need("model.attention.variant", _VARIANT, ("mha",)),
        _Need("model.attention.mask_type", _MASK, ("causal",)),
        _Need("model.ffn.variant", _FFN, ("mlp",)),
        _Need("model.attention.bias", _ATTN_BIAS, (True,)),
        _Need("model.ffn.bias", _FFN_BIAS, (True,)),
    ),
}


def _shape_problems(ir: TransformerIR, name: str) -> list[str]:
    attention = _block(ir).attention
    if attention.num_heads * attention.head_dim == ir.d_model:
        return []
    if name == "gpt2":
        return [
            f"model.attention.head_dim={attention.head_dim} (gpt2 needs num_heads·head_dim = "
            f"d_model = {ir.d_model})"
        ]
    if ir.d_model % attention.num_heads:
        return [
            f"model.attention.num_heads={attention.num_heads} ({name} needs d_model="
            f"{ir.d_model} divisible by num_heads)"
        ]
    return []


def unmappable_options(ir: TransformerIR) -> dict[str, list[str]]:
    """Per architecture, every option that prevents an exact mapping (empty: it maps)."""
    reasons: dict[str, list[str]] = {}
    for name, needs in NEEDS.items():
        found = [
            f"{need.path}={_show(need.actual(ir))} ({name} needs "
            f"{' or '.join(_show(value) for value in need.allowed)})"
            for need in needs
            if need.actual(ir) not in need.allowed
        ]
        reasons[name] = found + _shape_problems(ir, name)
    return reasons


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value).lower()


def hf_model_type(ir: TransformerIR) -> str | None:
    """The HF architecture that reproduces this model exactly, or None."""
    if getattr(ir, "family", None) != "transformer":
        return None
    return next((name for name, found in unmappable_options(ir).items() if not found), None)


def hf_config(ir: TransformerIR, **extra: Any) -> dict[str, Any]:
    """The HF `config.json` for this model; raises UnmappableSpec naming every blocker."""
    name = hf_model_type(ir)
    if name is None:
        raise UnmappableSpec(unmappable_options(ir))
    block = _block(ir)
    attention, ffn = block.attention, block.ffn
    common = {
        "architectures": [HF_CLASSES[name]],
        "model_type": name,
        "vocab_size": ir.vocab_size,
        "tie_word_embeddings": ir.tie_embeddings,
        "initializer_range": ir.init_std,
        "torch_dtype": "float32",
    }
    if name == "gpt2":
        config = {
            "n_embd": ir.d_model,
            "n_layer": ir.num_layers,
            "n_head": attention.num_heads,
            "n_inner": ffn.hidden_dim,
            "n_positions": ir.max_seq_len,
            "activation_function": ffn.activation,
            "layer_norm_epsilon": block.norm.eps,
            "attn_pdrop": attention.dropout,
            "resid_pdrop": block.residual_dropout,
            "embd_pdrop": ir.embedding_dropout,
        }
    else:
        rope = {"rope_type": "default", "rope_theta": ir.positional.rope_base}
        if ir.positional.rope_scaling != 1.0:
            rope = {"rope_type": "linear", "rope_theta": ir.positional.rope_base,
                    "factor": ir.positional.rope_scaling}
        config = {
            "hidden_size": ir.d_model,
            "intermediate_size": ffn.hidden_dim,
            "num_hidden_layers": ir.num_layers,
            "num_attention_heads": attention.num_heads,
            "num_key_value_heads": attention.num_kv_heads,
            "head_dim": attention.head_dim,
            "hidden_act": ffn.activation,
            "max_position_embeddings": ir.max_seq_len,
            "rms_norm_eps": block.norm.eps,
            "attention_dropout": attention.dropout,
            "rope_parameters": rope,
            "rope_theta": ir.positional.rope_base,  # read by transformers 4.x
        }
        if name == "llama":
            config |= {"attention_bias": attention.bias, "mlp_bias": ffn.bias}
        else:
            config["sliding_window"] = attention.window_size
    return common | config | extra


# --- weights --------------------------------------------------------------------------

_QKV = ("q_proj", "k_proj", "v_proj")  # fused in this order into GPT-2's c_attn
_GPT2_CONV1D = (("attention.o_proj", "attn.c_proj"), ("ffn.fc_in", "mlp.c_fc"), ("ffn.fc_out", "mlp.c_proj"))

def _renames(ir: TransformerIR, name: str) -> list[tuple[str, str]]:
    """(ours, HF) parameter names that carry the same tensor unchanged."""
    if name == "gpt2":
        pairs = [("embed_tokens.weight", "transformer.wte.weight"),
                 ("embed_positions.embedding.weight", "transformer.wpe.weight")]
        per_layer = {
            "attention_norm_in": "ln_1", "ffn_norm_in": "ln_2",
        }
        for i in range(ir.num_layers):
            for ours, theirs in per_layer.items():
                for kind in ("weight", "bias"):
                    pairs.append((f"blocks.{i}.{ours}.{kind}", f"transformer.h.{i}.{theirs}.{kind}"))
        pairs += [(f"final_norm.{kind}", f"transformer.ln_f.{kind}") for kind in ("weight", "bias")]
    else:
        pairs = [("embed_tokens.weight", "model.embed_tokens.weight"),
                 ("final_norm.weight", "model.norm.weight")]
        block = _block(ir)
        attention_kinds = ("weight", "bias") if block.attention.bias else ("weight",)
        ffn_kinds = ("weight", "bias") if block.ffn.bias else ("weight",)
        for i in range(ir.num_layers):
            pairs += [(f"blocks.{i}.attention_norm_in.weight", f"model.layers.{i}.input_layernorm.weight"),
                      (f"blocks.{i}.ffn_norm_in.weight", f"model.layers.{i}.post_attention_layernorm.weight")]
            for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
                pairs += [(f"blocks.{i}.attention.{proj}.{kind}", f"model.layers.{i}.self_attn.{proj}.{kind}")
                          for kind in attention_kinds]
            for proj in ("gate_proj", "up_proj", "down_proj"):
                pairs += [(f"blocks.{i}.ffn.{proj}.{kind}", f"model.layers.{i}.mlp.{proj}.{kind}")
                          for kind in ffn_kinds]
    return pairs + [("lm_head.weight", "lm_head.weight")]


def _mapped_type(ir: TransformerIR) -> str:
    name = hf_model_type(ir)
    if name is None:
        raise UnmappableSpec(unmappable_options(ir))
    return name


def _with_tied_head(ir: TransformerIR, state: dict, embedding: str) -> dict:
    if ir.tie_embeddings and "lm_head.weight" not in state:
        return {**state, "lm_head.weight": state[embedding]}
    return state


def _take(state: dict, key: str, side: str) -> Any:
    if key not in state:
        raise KeyError(f"{side} state dict has no {key!r}")
    return state[key]


def to_hf_state_dict(ir: TransformerIR, state: dict) -> dict:
    """Our state dict → the HF *ForCausalLM state dict of `hf_config(ir)`."""
    name = _mapped_type(ir)
    state = _with_tied_head(ir, state, "embed_tokens.weight")
    out = {theirs: _take(state, ours, "light_llm") for ours, theirs in _renames(ir, name)}
    if name == "gpt2":
        import torch

        for i in range(ir.num_layers):
            ours, theirs = f"blocks.{i}", f"transformer.h.{i}"
            for kind in ("weight", "bias"):
                qkv = torch.cat([_take(state, f"{ours}.attention.{p}.{kind}", "light_llm") for p in _QKV])
                out[f"{theirs}.attn.c_attn.{kind}"] = qkv.T.contiguous() if kind == "weight" else qkv
            for our_proj, their_proj in _GPT2_CONV1D:
                # GPT-2 stores Conv1D weights as [in, out], the transpose of nn.Linear.
                weight = _take(state, f"{ours}.{our_proj}.weight", "light_llm")
                out[f"{theirs}.{their_proj}.weight"] = weight.T.contiguous()
                out[f"{theirs}.{their_proj}.bias"] = _take(state, f"{ours}.{our_proj}.bias", "light_llm")
    return out


def from_hf_state_dict(ir: TransformerIR, hf_state: dict) -> dict:
    """The HF *ForCausalLM state dict of `hf_config(ir)` → our state dict."""
    name = _mapped_type(ir)
    embedding = "transformer.wte.weight" if name == "gpt2" else "model.embed_tokens.weight"
    hf_state = _with_tied_head(ir, hf_state, embedding)
    out = {ours: _take(hf_state, theirs, "Hugging Face") for ours, theirs in _renames(ir, name)}
    if name == "gpt2":
        for i in range(ir.num_layers):
            ours, theirs = f"blocks.{i}", f"transformer.h.{i}"
            for kind in ("weight", "bias"):
                fused = _take(hf_state, f"{theirs}.attn.c_attn.{kind}", "Hugging Face")
                fused = fused.T if kind == "weight" else fused  # [3·d, d] / [3·d]
                for proj, part in zip(_QKV, fused.chunk(3, dim=0)):
                    out[f"{ours}.attention.{proj}.{kind}"] = part.contiguous()
            for our_proj, their_proj in _GPT2_CONV1D:
                weight = _take(hf_state, f"{theirs}.{their_proj}.weight", "Hugging Face")
                out[f"{ours}.{our_proj}.weight"] = weight.T.contiguous()
                out[f"{ours}.{our_proj}.bias"] = _take(hf_state, f"{theirs}.{their_proj}.bias", "Hugging Face")
    return out


# --- import ---------------------------------------------------------------------------

def model_section_from_hf_config(config: dict[str, Any]) -> dict[str, Any]:
    """The spec `model` section that reproduces an HF llama / mistral / gpt2 config."""
    model_type = config.get("model_type")
    if model_type == "gpt2":
        d_model, heads = config["n_embd"], config["n_head"]
        return {
            "name": "transformer",
            "vocab_size": config["vocab_size"],
            "d_model": d_model,
            "num_layers": config["n_layer"],
            "max_seq_len": config["n_positions"],
            "attention": {"variant": "mha", "num_heads": heads, "num_kv_heads": heads,
                          "head_dim": d_model // heads, "bias": True,
                          "dropout": config.get("attn_pdrop", 0.0)},
            "positional": {"encoding": "learned"},
            "ffn": {"variant": "mlp", "bias": True,
                    "expansion_factor": _expansion(config.get("n_inner") or 4 * d_model, d_model),
                    "activation": _activation(config.get("activation_function", "gelu_new"))},
            "norm": {"type": "layernorm", "eps": config.get("layer_norm_epsilon", 1e-5), "placement": "pre"},
            "tie_embeddings": config.get("tie_word_embeddings", True),
            "dropout": config.get("resid_pdrop", 0.0),
            "init_std": config.get("initializer_range", 0.02),
        }
    if model_type not in ("llama", "mistral"):
        raise ValueError(f"Hugging Face model_type {model_type!r} has no mapping; supported: {list(ARCHITECTURES)}")
    d_model, heads = config["hidden_size"], config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope_type not in ("default", "linear"):
        raise ValueError(f"rope_type {rope_type!r} has no light_llm equivalent; supported: default, linear")
    positional: dict[str, Any] = {"encoding": "rope",
                                  "rope_base": rope.get("rope_theta", config.get("rope_theta", 10000.0))}
    if rope_type == "linear":
        positional["rope_scaling"] = rope["factor"]
    act = _activation(config.get("hidden_act", "silu"))
    if act not in ("silu", "gelu"):
        raise ValueError(f"hidden_act {config.get('hidden_act')!r}: light_llm gates with silu or gelu only")
    window = config.get("sliding_window") if model_type == "mistral" else None
    attention: dict[str, Any] = {
        "variant": "mha" if kv_heads == heads else ("mqa" if kv_heads == 1 else "gqa"),
        "num_heads": heads, "num_kv_heads": kv_heads,
        "head_dim": config.get("head_dim") or d_model // heads,
        "bias": bool(config.get("attention_bias", False)),
        "dropout": config.get("attention_dropout", 0.0),
        "mask_type": "sliding_window" if window else "causal",
    }
    if window:
        attention["window_size"] = window
    return {
        "name": "transformer",
        "vocab_size": config["vocab_size"],
        "d_model": d_model,
        "num_layers": config["num_hidden_layers"],
        "max_seq_len": config["max_position_embeddings"],
        "attention": attention,
        "positional": positional,
        "ffn": {"variant": "swiglu" if act == "silu" else "geglu",
                "expansion_factor": _expansion(config["intermediate_size"], d_model),
                "bias": bool(config.get("mlp_bias", False))},
        "norm": {"type": "rmsnorm", "eps": config.get("rms_norm_eps", 1e-6), "placement": "pre"},
        "tie_embeddings": config.get("tie_word_embeddings", False),
        "init_std": config.get("initializer_range", 0.02),
    }


def _expansion(hidden: int, d_model: int) -> float:
    from light_llm.compiler.lower import FFN_HIDDEN_MULTIPLE, ffn_hidden_dim

    factor = hidden / d_model
    if ffn_hidden_dim(d_model, factor) != hidden:
        raise ValueError(
            f"FFN hidden size {hidden} is not a multiple of {FFN_HIDDEN_MULTIPLE}: light_llm "
            f"rounds expansion_factor·d_model up to a multiple of {FFN_HIDDEN_MULTIPLE}"
        )
    return factor


def _activation(hf_name: str) -> str:
    names = {"silu": "silu", "swish": "silu", "gelu": "gelu", "relu": "relu"}
    if hf_name not in names:
        raise ValueError(
            f"activation {hf_name!r} has no light_llm equivalent (gelu_new/gelu_pytorch_tanh are "
            f"the tanh approximation; light_llm's gelu is exact); supported: {sorted(names)}"
        )
    return names[hf_name]
