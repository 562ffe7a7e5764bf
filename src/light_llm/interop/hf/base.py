"""What every Hugging Face architecture mapping shares: the `HFArchitecture` base class
(config both ways, tensor renames both ways, what it cannot express), the check of a
`config.json` against the fields an architecture reads, and the errors.

One subclass per architecture lives in its own file of this package (llama.py,
mistral.py, gpt2.py) with a module-level `ARCHITECTURE`; `light_llm.interop.hf` finds
them, so adding an architecture is adding one file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from light_llm.errors import LightLLMError
from light_llm.models.transformer.ir import BlockIR, TransformerIR


class UnmappableSpec(LightLLMError):
    """The model maps onto no Hugging Face architecture; `reasons` per architecture."""

    def __init__(self, reasons: dict[str, list[str]]):
        self.reasons = reasons
        lines = [f"{name}: {'; '.join(found)}" for name, found in reasons.items()]
        super().__init__("no Hugging Face architecture reproduces this model:\n  " + "\n  ".join(lines))


class HFConfigError(LightLLMError):
    """A config.json that light_llm cannot read or express; the message names each field."""


class MissingTensor(LightLLMError):
    """A state dict without a tensor that the architecture's mapping reads."""


@dataclass(frozen=True)
class Need:
    """A spec option an architecture fixes: `path` must take one of `allowed`."""

    path: str
    actual: Callable[[TransformerIR], Any]
    allowed: tuple[Any, ...]


def block(ir: TransformerIR) -> BlockIR:
    return ir.blocks[0]


NORM_TYPE = lambda ir: block(ir).norm.type  # noqa: E731
PLACEMENT = lambda ir: block(ir).placement  # noqa: E731
PARALLEL = lambda ir: block(ir).parallel  # noqa: E731
ENCODING = lambda ir: ir.positional.encoding  # noqa: E731
VARIANT = lambda ir: block(ir).attention.variant  # noqa: E731
MASK = lambda ir: block(ir).attention.mask_type  # noqa: E731
FFN = lambda ir: block(ir).ffn.variant  # noqa: E731
ATTENTION_BIAS = lambda ir: block(ir).attention.bias  # noqa: E731
FFN_BIAS = lambda ir: block(ir).ffn.bias  # noqa: E731
LM_HEAD_BIAS = lambda ir: ir.lm_head_bias  # noqa: E731

WINDOWED_MASK = Need("model.attention.mask_type", MASK, ("causal", "sliding_window"))
NO_ATTENTION_BIAS = Need("model.attention.bias", ATTENTION_BIAS, (False,))
NO_FFN_BIAS = Need("model.ffn.bias", FFN_BIAS, (False,))


class HFConfigFields(BaseModel):
    """The fields of a config.json an architecture reads, with their types; other fields
    are allowed and ignored."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)


class HFArchitecture:
    """One Hugging Face architecture that a light_llm Transformer maps onto exactly."""

    model_type: ClassVar[str]
    hf_class: ClassVar[str]  # the *ForCausalLM class named in config.json
    base_prefix: ClassVar[str]  # the base model's prefix in tensor names
    embedding: ClassVar[str]  # the HF name of the token embedding
    # checkpoint name → the model's name, for tensors that checkpoints store under an older
    # name which transformers renames on load (GPT-NeoX's embed_out → lm_head)
    checkpoint_aliases: ClassVar[dict[str, str]] = {}
    fields: ClassVar[type[HFConfigFields]]
    needs: ClassVar[tuple[Need, ...]]
    heads_span_d_model: ClassVar[bool] = False  # num_heads·head_dim must equal d_model

    # --- light_llm → Hugging Face ---------------------------------------------------

    def blockers(self, ir: TransformerIR) -> list[str]:
        """Every option of `ir` this architecture cannot express (empty: it maps)."""
        return unmet(self.needs, ir, self.model_type) + self.shape_problems(ir) + self.expert_problems(ir)

    def expert_problems(self, ir: TransformerIR) -> list[str]:
        """A dense architecture refuses a mixture of experts (interop/hf_experts.py maps them)."""
        if any(block.ffn.moe is not None for block in ir.blocks):
            return [f"model.ffn.moe (a mixture of experts; {self.model_type} has a dense FFN)"]
        return []

    def shape_problems(self, ir: TransformerIR) -> list[str]:
        attention = block(ir).attention
        if self.heads_span_d_model and attention.num_heads * attention.head_dim != ir.d_model:
            return [
                f"model.attention.head_dim={attention.head_dim} ({self.model_type} needs "
                f"num_heads·head_dim = d_model = {ir.d_model})"
            ]
        if attention.num_heads * attention.head_dim != ir.d_model and ir.d_model % attention.num_heads:
            return [
                f"model.attention.num_heads={attention.num_heads} ({self.model_type} needs "
                f"d_model={ir.d_model} divisible by num_heads)"
            ]
        return []

    def config(self, ir: TransformerIR) -> dict[str, Any]:
        """The architecture-specific fields of config.json."""
        raise NotImplementedError

    def renames(self, ir: TransformerIR) -> list[tuple[str, str]]:
        """(ours, HF) parameter names that carry the same tensor unchanged."""
        raise NotImplementedError

    def to_hf(self, ir: TransformerIR, state: dict) -> dict:
        """Our state dict (tied head filled in) → the HF state dict."""
        return {theirs: take(state, ours, "light_llm") for ours, theirs in self.renames(ir)}

    def from_hf(self, ir: TransformerIR, hf_state: dict) -> dict:
        """The HF state dict (tied head filled in) → our state dict."""
        return {ours: take(hf_state, theirs, "Hugging Face") for ours, theirs in self.renames(ir)}

    def checkpoint_layout(self, ir: TransformerIR, hf_state: dict) -> dict:
        """The *ForCausalLM state dict → the tensors as checkpoint files hold them (the
        same here; a mixture of experts stores each expert apart)."""
        return hf_state

    def module_layout(self, ir: TransformerIR, checkpoint: dict) -> dict:
        """The inverse of `checkpoint_layout`."""
        return checkpoint

    # --- Hugging Face → light_llm ---------------------------------------------------

    def read(self, config: dict[str, Any]) -> HFConfigFields:
        """`config` checked against `fields`: one line naming every bad field."""
        try:
            return self.fields.model_validate(config)
        except ValidationError as error:
            problems = [
                f"{'.'.join(map(str, issue['loc']))}: got {show_value(issue.get('input'))}; {issue['msg']}"
                if issue["type"] != "missing" else f"{'.'.join(map(str, issue['loc']))}: missing"
                for issue in error.errors(include_url=False)
            ]
            raise HFConfigError(f"{self.model_type} config: " + "; ".join(problems)) from None

    def model_section(self, fields: HFConfigFields) -> dict[str, Any]:
        """The spec `model` section that reproduces this config (inverse of `config`)."""
        raise NotImplementedError


def qk_norm_renames(ir: TransformerIR) -> list[tuple[str, str]]:
    """Each layer's q_norm and k_norm, named `self_attn.q_norm` / `self_attn.k_norm`."""
    return [(f"blocks.{i}.attention.{norm}.weight", f"model.layers.{i}.self_attn.{norm}.weight")
            for i in range(ir.num_layers) for norm in ("q_norm", "k_norm")]


def unmet(needs: tuple[Need, ...], ir: TransformerIR, who: str) -> list[str]:
    """Each need of `needs` that `ir` does not meet: "path=value (WHO needs X or Y)"."""
    return [
        f"{need.path}={show(need.actual(ir))} ({who} needs {' or '.join(show(value) for value in need.allowed)})"
        for need in needs
        if need.actual(ir) not in need.allowed
    ]


def take(state: dict, key: str, side: str) -> Any:
    if key not in state:
        raise MissingTensor(f"{side} state dict has no {key!r}")
    return state[key]


def show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value).lower()


def show_value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def expansion(hidden: int, d_model: int) -> float:
    from light_llm.models.transformer.lower import FFN_HIDDEN_MULTIPLE, ffn_hidden_dim

    factor = hidden / d_model
    if ffn_hidden_dim(d_model, factor) != hidden:
        raise HFConfigError(
            f"FFN hidden size {hidden} is not a multiple of {FFN_HIDDEN_MULTIPLE}: light_llm "
            f"rounds expansion_factor·d_model up to a multiple of {FFN_HIDDEN_MULTIPLE}"
        )
    return factor


ACTIVATIONS = {"silu": "silu", "swish": "silu", "gelu": "gelu", "relu": "relu",
               "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh"}


def activation(hf_name: str) -> str:
    if hf_name not in ACTIVATIONS:
        raise HFConfigError(
            f"activation {hf_name!r} has no light_llm equivalent; supported: {sorted(ACTIVATIONS)}"
        )
    return ACTIVATIONS[hf_name]


def hf_activation(name: str, tanh_gelu: str = "gelu_pytorch_tanh") -> str:
    """light_llm's activation name → the Hugging Face one (`tanh_gelu`: the family's name
    for the tanh approximation, gelu_new in GPT-2)."""
    return tanh_gelu if name == "gelu_tanh" else name
