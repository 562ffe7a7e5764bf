"""The option tables of the Transformer family: each positional encoding, FFN variant,
norm, activation and attention kernel is declared here once, and everything else reads
its entry — the spec's allowed values and cross-field rules (config.py, the JSON Schema's
if/then rules), lowering, the modules built, the cost model, the resolved spec and the
export geometry (whether a graph takes `position_ids`) and the ONNX graph's lowering in
both of its forms (exports/onnx_lowering reads the entry as the eager build does).

Modules and ONNX lowerings are named by import path ("module:attribute"), so reading a
spec never imports torch or onnx. Adding an option is: an entry here, its module, its
ONNX lowering, and its paragraph in docs/models.md (the recipe is in that page;
tests/models/test_option_recipe.py walks it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any, TypeVar

from light_llm.errors import LightLLMError


class OptionError(LightLLMError):
    """An option name that no table declares, or one declared twice."""


def resolve_path(path: str) -> Any:
    """"module:attribute" → the attribute (imports the module)."""
    module, attribute = path.split(":")
    return getattr(import_module(module), attribute)


@dataclass(frozen=True)
class ONNXLowering:
    """How an option is written into each form of the ONNX graph: `fused` for onnxruntime
    (com.microsoft contrib ops allowed), `portable` in standard ONNX ops only; each
    "module:attribute" under exports/onnx_lowering (or wherever the option lives)."""

    fused: str
    portable: str

    @classmethod
    def both(cls, path: str) -> "ONNXLowering":
        """One lowering for both forms (it writes standard ops, or reads the form itself)."""
        return cls(path, path)

    def path(self, portable: bool) -> str:
        return self.portable if portable else self.fused


@dataclass(frozen=True)
class PositionalEncoding:
    """How token positions reach the model. Each role is optional; a role left out is a
    no-op module (nothing added to the embeddings, no rotation, no score bias)."""

    name: str
    description: str
    reads_positions: bool  # the graph takes position_ids (recorded in the export geometry)
    embedding: str | None = None  # Class(PositionalIR, d_model): added to token embeddings
    rotation: str | None = None  # Class(PositionalIR, head_dim): rotates Q and K
    complex_rotation: str | None = None  # the same for complex attention's eager kernel
    score_bias: str | None = None  # Class(AttentionIR): added to the attention scores
    options: tuple[str, ...] = ()  # keys of model.positional it reads; others are errors
    even_head_dim: str | None = None  # why head_dim must be even, when it must
    embedding_parameters: Callable[[int, int], int] = lambda max_seq_len, d_model: 0
    # ONNX, one per role above (None: the role is absent, or the option is eager-only):
    onnx_embedding: ONNXLowering | None = None  # (g, weights, ir, position_ids) → [B, S, d_model]
    # Class(g, AttentionIR, max_seq_len, position_ids, placement): rotates Q and K; fused for
    # layers in one GroupQueryAttention node (placement: plan.py's `rotary`), portable for others
    onnx_rotation: ONNXLowering | None = None
    onnx_score_bias: ONNXLowering | None = None  # (g, distance, AttentionIR) → [1, H, S, T]

    def options_not_read(self, keys: Mapping[str, Any]) -> list[str]:
        """The keys of model.positional that belong to other encodings, not this one."""
        owned = {option for encoding in POSITIONAL_ENCODINGS.values() for option in encoding.options}
        return [key for key in keys if key in owned and key not in self.options]


@dataclass(frozen=True)
class FFNVariant:
    name: str
    description: str
    module: str  # Class(FFNIR), with an `output_projection` property
    projections: int  # d_model × hidden matrices (parameters and FLOPs)
    activation: str | None = None  # a fixed activation; None: model.ffn.activation chooses
    activation_choices: tuple[str, ...] = ()  # with a fixed one: others ffn.activation may pick
    onnx: ONNXLowering | None = None  # (g, weights, prefix, FFNIR, x) → output
    options: tuple[str, ...] = ()  # keys of model.ffn only this variant reads
    onnx_moe_gating: str | None = None  # (FFNIR) → onnxruntime MoE node's SwiGLU attributes; None: portable experts


@dataclass(frozen=True)
class ExpertMixture:
    """model.ffn.moe: each sparse layer's FFN becomes routed copies of its FFN variant."""

    name: str
    description: str
    module: str  # Class(FFNIR with moe)
    onnx: ONNXLowering  # (g, weights, prefix, FFNIR, x) → output


@dataclass(frozen=True)
class Activation:
    name: str
    description: str
    function: str  # "module:function", elementwise on a tensor
    onnx: ONNXLowering | None = None  # (g, x, scope) → output


@dataclass(frozen=True)
class Norm:
    name: str
    description: str
    module: str  # Class(dim, eps)
    parameters_per_dim: int
    onnx: ONNXLowering | None = None  # (g, weights, name, NormIR, x) → output
    onnx_skip: str | None = None  # fused form: residual add + norm in one node,
    # (g, weights, name, NormIR, x, residual) → (output, sum); None: an Add, then the norm


@dataclass(frozen=True)
class AttentionKernel:
    name: str
    description: str
    module: str  # Class(AttentionIR): (q, k, v, bias) → output
    complex_rotation: bool = False  # rotates Q and K with the encoding's complex_rotation
    # The attention sub-layer in ONNX (None: eager only; export lowers to another kernel):
    # (g, weights, prefix, AttentionIR, x, AttentionInputs, rotation, cache) → output; fused:
    # for the layers plan.py fuses, portable: for every other layer
    onnx: ONNXLowering | None = None


Entry = TypeVar("Entry", PositionalEncoding, FFNVariant, Activation, Norm, AttentionKernel)

POSITIONAL_ENCODINGS: dict[str, PositionalEncoding] = {}
FFN_VARIANTS: dict[str, FFNVariant] = {}
ACTIVATIONS: dict[str, Activation] = {}
NORMS: dict[str, Norm] = {}
ATTENTION_KERNELS: dict[str, AttentionKernel] = {}


def register(table: dict[str, Entry], entry: Entry) -> Entry:
    if entry.name in table:
        raise OptionError(f"option {entry.name!r} is already declared")
    table[entry.name] = entry
    return entry


def entry(table: Mapping[str, Entry], name: str, what: str) -> Entry:
    if name not in table:
        raise OptionError(f"unknown {what} {name!r}; allowed: {', '.join(table)}")
    return table[name]


def readers(option: str) -> list[str]:
    """The positional encodings that read `option` (a key of model.positional)."""
    return [name for name, encoding in POSITIONAL_ENCODINGS.items() if option in encoding.options]


def activation_choices(variant: str) -> tuple[str, ...]:
    """The activations model.ffn.activation may name for `variant` (empty: it fixes its own)."""
    entry_ = FFN_VARIANTS[variant]
    if entry_.activation is None:
        return tuple(ACTIVATIONS)
    return (entry_.activation, *entry_.activation_choices) if entry_.activation_choices else ()


def ffn_option_readers(option: str) -> list[str]:
    """The FFN variants that read `option` (a key of model.ffn some variants own)."""
    return [name for name, variant in FFN_VARIANTS.items() if option in variant.options]


def owned_ffn_options() -> list[str]:
    """The keys of model.ffn that belong to some variants only."""
    return list(dict.fromkeys(option for variant in FFN_VARIANTS.values() for option in variant.options))


def free_activation_variants() -> list[str]:
    """The FFN variants whose activation model.ffn.activation chooses."""
    return [name for name, variant in FFN_VARIANTS.items() if variant.activation is None]


_POSITIONAL = "light_llm.models.transformer.positional"
_FFN = "light_llm.models.transformer.ffn"
_ATTENTION = "light_llm.models.transformer.attention"
_ONNX = "light_llm.exports.onnx_lowering"
_ONNX_ACTIVATIONS = f"{_ONNX}.activations"
_ONNX_NORM = f"{_ONNX}.norm"
_ONNX_ATTENTION = ONNXLowering(f"{_ONNX}.attention:fused_attention", f"{_ONNX}.attention:standard_attention")
_ONNX_TABULATED_POSITIONS = ONNXLowering.both(f"{_ONNX}.embedding:tabulated_positions")

for _entry in (
    PositionalEncoding(
        "rope", "rotary embedding of Q and K", reads_positions=True,
        rotation=f"{_POSITIONAL}:rope_rotation", complex_rotation=f"{_POSITIONAL}:ComplexPhase",
        options=("rope_base", "rope_scaling", "rope_fraction", "rope_pairing", "sliding_rope_base",
                 "layer_pattern"),
        even_head_dim="rope rotates pairs",
        onnx_rotation=ONNXLowering(f"{_ONNX}.rotary:FusedRotary", f"{_ONNX}.rotary:StandardRotary"),
    ),
    PositionalEncoding(
        "alibi", "linear distance penalty on attention scores", reads_positions=False,
        score_bias=f"{_POSITIONAL}:ALiBi", onnx_score_bias=ONNXLowering.both(f"{_ONNX}.masks:alibi_bias"),
    ),
    PositionalEncoding(
        "sinusoidal", "fixed sin/cos vectors added to token embeddings", reads_positions=True,
        embedding=f"{_POSITIONAL}:SinusoidalPositions", onnx_embedding=_ONNX_TABULATED_POSITIONS,
    ),
    PositionalEncoding(
        "learned", "a learned table added to token embeddings", reads_positions=True,
        embedding=f"{_POSITIONAL}:LearnedPositions",
        embedding_parameters=lambda max_seq_len, d_model: max_seq_len * d_model,
        onnx_embedding=_ONNX_TABULATED_POSITIONS,
    ),
    PositionalEncoding("none", "no positional information", reads_positions=False),
):
    register(POSITIONAL_ENCODINGS, _entry)

for _entry in (
    FFNVariant("swiglu", "SiLU(gate)·up then down", f"{_FFN}:GatedFFN", 3, activation="silu",
               onnx=ONNXLowering.both(f"{_ONNX}.ffn:gated"), onnx_moe_gating=f"{_ONNX}.moe:swiglu_gating"),
    FFNVariant("geglu", "GELU(gate)·up then down (ffn.activation: gelu or gelu_tanh)",
               f"{_FFN}:GatedFFN", 3, activation="gelu", activation_choices=("gelu_tanh",),
               onnx=ONNXLowering.both(f"{_ONNX}.ffn:gated")),
    FFNVariant("mlp", "Linear → activation → Linear", f"{_FFN}:MLP", 2, onnx=ONNXLowering.both(f"{_ONNX}.ffn:mlp")),
    FFNVariant(
        "clamped_swiglu", "gpt-oss: min(gate, L)·σ(α·min(gate, L)) · (clamp(up, −L, L) + 1) then down",
        "light_llm.models.transformer.clamped_swiglu:ClampedSwiGLU", 3, activation="silu",
        onnx=ONNXLowering(f"{_ONNX}.clamped_swiglu:fused", f"{_ONNX}.clamped_swiglu:portable"),
        options=("swiglu_alpha", "swiglu_limit"),
        onnx_moe_gating=f"{_ONNX}.clamped_swiglu:moe_gating",
    ),
):
    register(FFN_VARIANTS, _entry)

for _entry in (
    Activation("silu", "x·sigmoid(x)", "torch.nn.functional:silu",
               onnx=ONNXLowering(f"{_ONNX_ACTIVATIONS}:quick_gelu_silu", f"{_ONNX_ACTIVATIONS}:silu")),
    Activation("gelu", "exact (erf) GELU", "torch.nn.functional:gelu",
               onnx=ONNXLowering(f"{_ONNX_ACTIVATIONS}:contrib_gelu", f"{_ONNX_ACTIVATIONS}:erf_gelu")),
    Activation("relu", "max(x, 0)", "torch.nn.functional:relu", onnx=ONNXLowering.both(f"{_ONNX_ACTIVATIONS}:relu")),
    Activation(
        "gelu_tanh", "tanh-approximated GELU (HF gelu_new, gelu_pytorch_tanh)",
        "light_llm.models.transformer.activations:gelu_tanh",
        onnx=ONNXLowering(f"{_ONNX_ACTIVATIONS}:fast_gelu", f"{_ONNX_ACTIVATIONS}:tanh_gelu"),
    ),
):
    register(ACTIVATIONS, _entry)

for _entry in (
    Norm("rmsnorm", "x / √(mean(x²) + eps) · w", "light_llm.models.transformer.norm:RMSNorm", 1,
         onnx=ONNXLowering(f"{_ONNX_NORM}:simplified_layer_norm", f"{_ONNX_NORM}:rms_norm"),
         onnx_skip=f"{_ONNX_NORM}:skip_simplified_layer_norm"),
    Norm("layernorm", "(x − mean) / √(var + eps) · w + b", "torch.nn:LayerNorm", 2,
         onnx=ONNXLowering.both(f"{_ONNX_NORM}:layer_norm"), onnx_skip=f"{_ONNX_NORM}:skip_layer_norm"),
):
    register(NORMS, _entry)

for _entry in (
    AttentionKernel("sdpa", "torch scaled_dot_product_attention", f"{_ATTENTION}:SDPAKernel",
                    onnx=_ONNX_ATTENTION),
    AttentionKernel(
        "flash_attn", "flash-attn on CUDA", f"{_ATTENTION}:FlashAttentionKernel"
    ),
    AttentionKernel(
        "complex_eager", "complex Q and K in complex64", f"{_ATTENTION}:ComplexKernel",
        complex_rotation=True,
    ),
    AttentionKernel(
        "softcap", "explicit scores soft-capped by cap·tanh(scores/cap), then softmax",
        "light_llm.models.transformer.softcap:SoftcapKernel", onnx=_ONNX_ATTENTION,
    ),
    AttentionKernel(
        "sinks", "explicit scores (soft-capped where set), softmax with a learned logit per head in its "
        "denominator", "light_llm.models.transformer.sinks:SinkKernel", onnx=_ONNX_ATTENTION,
    ),
    AttentionKernel(
        "complex_as_real", "Re(Q·K̄) as the real dot product of (re | im) halves",
        f"{_ATTENTION}:SDPAKernel", onnx=_ONNX_ATTENTION,
    ),
):
    register(ATTENTION_KERNELS, _entry)

MIXTURE_OF_EXPERTS = ExpertMixture(
    "moe", "the top-k of `experts` FFNs per token, weighted by the router, plus shared experts",
    "light_llm.models.transformer.moe:MixtureOfExperts",
    onnx=ONNXLowering(f"{_ONNX}.moe:fused_moe", f"{_ONNX}.moe:portable_moe"),
)
