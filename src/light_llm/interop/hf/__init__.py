"""Hugging Face `transformers` interop: which architecture a model maps onto, its
`config.json`, and state-dict conversion both ways. Imports neither transformers nor
torch at import time; works on the IR (`lower_spec(spec)` or `model.ir`), dicts, tensors.

Each architecture is one object (a `base.HFArchitecture` in its own file of this
package: llama.py, mistral.py, gpt2.py, phi3.py), found by `architectures()`; adding one is adding
a file.

    hf_model_type(ir) -> str | None           the architecture that reproduces the model
    choose_architecture(ir, preferred, required)
                                              the one to write: `required` or else
                                              `preferred` (an import's own) where it fits
    unmappable_options(ir) -> {arch: [...]}   per architecture, each blocking spec option
    hf_config(ir, **extra) -> dict            config.json (raises UnmappableSpec)
    to_hf_state_dict / from_hf_state_dict     our tensor names ↔ the *ForCausalLM names
                                              (of hf_model_type(ir), or of model_type=);
                                              with tied embeddings both sides carry
                                              "lm_head.weight" (drop it before saving)
    model_section_from_hf_config(config)      the spec's model section for a config.json,
                                              checked field by field first (HFConfigError)
"""

from __future__ import annotations

import pkgutil
from functools import cache
from importlib import import_module
from typing import Any

from light_llm.interop.hf.base import HFArchitecture, HFConfigError, UnmappableSpec
from light_llm.models.transformer.ir import TransformerIR

__all__ = [
    "HFConfigError", "UnmappableSpec", "architecture", "architectures", "choose_architecture", "from_hf_state_dict",
    "hf_config", "hf_model_type", "model_section_from_hf_config", "to_hf_state_dict",
    "unmappable_options",
]

ORDER = ("llama", "mistral", "gpt2")  # tried in this order; any other file after them


@cache
def architectures() -> dict[str, HFArchitecture]:
    """Every architecture of this package, by model_type."""
    found = {}
    for module in pkgutil.iter_modules(__path__):
        entry = getattr(import_module(f"{__name__}.{module.name}"), "ARCHITECTURE", None)
        if entry is not None:
            found[entry.model_type] = entry
    known = [name for name in ORDER if name in found]
    return {name: found[name] for name in known + sorted(set(found) - set(known))}


def architecture(model_type: Any) -> HFArchitecture:
    if model_type not in architectures():
        raise HFConfigError(
            f"Hugging Face model_type {model_type!r} has no mapping; supported: {', '.join(architectures())}"
        )
    return architectures()[model_type]


def unmappable_options(ir: TransformerIR) -> dict[str, list[str]]:
    """Per architecture, every option that prevents an exact mapping (empty: it maps)."""
    if getattr(ir, "family", None) != "transformer":
        return {name: [f"model.name={ir.family!r} ({name} needs 'transformer')"] for name in architectures()}
    return {name: entry.blockers(ir) for name, entry in architectures().items()}


def hf_model_type(ir: TransformerIR) -> str | None:
    """The HF architecture that reproduces this model exactly, or None."""
    return next((name for name, found in unmappable_options(ir).items() if not found), None)


def choose_architecture(
    ir: TransformerIR, preferred: str | None = None, required: str | None = None
) -> tuple[str, str | None]:
    """(model_type to write, a note where `preferred` could not be kept). `required`: that
    architecture or UnmappableSpec naming its blockers; else `preferred` (the model_type an
    import came from) where it still reproduces `ir`, else the first that does."""
    if required is not None:
        architecture(required)  # an unknown name: HFConfigError listing the known ones
        blocked = unmappable_options(ir)[required]
        if blocked:
            raise UnmappableSpec({required: blocked})
        return required, None
    found = unmappable_options(ir)
    if preferred in found and not found[preferred]:
        return preferred, None
    first = next((name for name, blockers in found.items() if not blockers), None)
    if first is None:
        raise UnmappableSpec(found)
    if preferred is None:
        return first, None
    why = "; ".join(found.get(preferred, [f"no mapping for {preferred!r}"]))
    return first, f"wrote {first}, not the imported {preferred}, which no longer fits ({why})"


def _mapped(ir: TransformerIR) -> HFArchitecture:
    name = hf_model_type(ir)
    if name is None:
        raise UnmappableSpec(unmappable_options(ir))
    return architectures()[name]


def hf_config(ir: TransformerIR, model_type: str | None = None, **extra: Any) -> dict[str, Any]:
    """The HF `config.json` for this model (as the architecture `model_type`, else the first
    that fits); raises UnmappableSpec naming every blocker."""
    entry = _chosen(ir, model_type)
    common = {
        "architectures": [entry.hf_class],
        "model_type": entry.model_type,
        "vocab_size": ir.vocab_size,
        "tie_word_embeddings": ir.tie_embeddings,
        "initializer_range": ir.init_std,
        "torch_dtype": "float32",
    }
    return common | entry.config(ir) | extra


def _with_tied_head(ir: TransformerIR, state: dict, embedding: str) -> dict:
    if ir.tie_embeddings and "lm_head.weight" not in state:
        return {**state, "lm_head.weight": state[embedding]}
    return state


def _chosen(ir: TransformerIR, model_type: str | None) -> HFArchitecture:
    """`model_type`'s architecture where given (an import knows its source's), else the
    first that reproduces `ir`."""
    return _mapped(ir) if model_type is None else architecture(model_type)


def to_hf_state_dict(ir: TransformerIR, state: dict, model_type: str | None = None) -> dict:
    """Our state dict → the HF *ForCausalLM state dict of `hf_config(ir)` (or of the
    architecture `model_type`)."""
    entry = _chosen(ir, model_type)
    return entry.to_hf(ir, _with_tied_head(ir, state, "embed_tokens.weight"))


def to_hf_checkpoint(ir: TransformerIR, state: dict, model_type: str | None = None) -> dict:
    """`to_hf_state_dict` as checkpoint files hold it: under the names transformers' own
    save_pretrained writes (GPT-NeoX's `embed_out`), which every transformers version loads,
    and a tied lm_head left out (transformers ties it again from tie_word_embeddings)."""
    hf_state = _chosen(ir, model_type).checkpoint_layout(ir, to_hf_state_dict(ir, state, model_type))
    if ir.tie_embeddings:
        hf_state.pop("lm_head.weight")
    file_names = {module: file for file, module in _chosen(ir, model_type).checkpoint_aliases.items()}
    return {file_names.get(name, name): tensor for name, tensor in hf_state.items()}


def from_hf_state_dict(ir: TransformerIR, hf_state: dict, model_type: str | None = None) -> dict:
    """The HF *ForCausalLM state dict of `hf_config(ir)` (or of the architecture
    `model_type`) → our state dict."""
    entry = _chosen(ir, model_type)
    return entry.from_hf(ir, _with_tied_head(ir, hf_state, entry.embedding))


def model_section_from_hf_config(config: Any) -> dict[str, Any]:
    """The spec `model` section that reproduces an HF config.json (already parsed)."""
    if not isinstance(config, dict):
        raise HFConfigError(f"expected a JSON object, got {type(config).__name__}")
    entry = architecture(config.get("model_type"))
    return entry.model_section(entry.read(config))
