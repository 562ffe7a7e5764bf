"""Hugging Face folder → light_llm model folder (spec.resolved.json, model.safetensors,
tokenizer.json), which `lightllm train` can continue and `lightllm export` exports. A GGUF
file takes the same path through import_gguf.py.

Reads config.json and the weights without pickle (interop/hf_checkpoint.py: safetensors,
one file or shards with an index, in any float dtype, converted to fp32; or a
pytorch_model.bin only where torch.load(weights_only=True) accepts it). tokenizer.json is
carried into the model folder, with tokenizer_config.json (the chat template inside, from
chat_template.jinja where transformers saved it there) and generation_config.json (every
end-of-turn token: generation_config.json's, config.json's, the tokenizer's eos_token); a
chat template that does not compile or raises on a plain conversation refuses the import
(light_llm/chat_template.py). The spec comes from the mapping objects of interop/hf/; every
tensor the spec needs must be present and no unknown tensor may be left over, so an
import either reproduces the checkpoint or says what is wrong. Where transformers is
installed the result is verified against the Hugging Face model itself (through the
export parity gate, which is why this workflow sits above exports/, beside the CLI).
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch

from light_llm.errors import LightLLMError

if TYPE_CHECKING:
    from light_llm.exports.phases import PhaseDisplay

# Buffers some checkpoints carry that are not weights (GPT-2's causal mask, old RoPE caches).
IGNORED_SUFFIXES = (".attn.bias", ".attn.masked_bias", ".rotary_emb.inv_freq")
SHOWN = 8  # names listed per problem


class HFImportError(LightLLMError):
    """A folder that cannot be imported; the message names the folder and what is wrong."""


@dataclass
class ImportResult:
    out: Path
    model_type: str
    num_parameters: int
    parity: object | None  # ParityReport against transformers, None where not verified
    notes: list[str]


def read_hf_config(source: Path) -> dict:
    path = source / "config.json"
    if not source.is_dir():
        raise HFImportError(f"{source}: not a folder")
    if not path.is_file():
        raise HFImportError(f"{source}: not a Hugging Face model folder (no config.json)")
    config = _read_json(path, "config.json")
    if not isinstance(config, dict):
        raise HFImportError(f"{path}: expected a JSON object, got {_json_type(config)}")
    model_type = config.get("model_type")
    if model_type not in supported():
        listed = config.get("architectures")
        listed = ", ".join(map(str, listed)) if isinstance(listed, list) and listed else "no architectures listed"
        raise HFImportError(
            f"{source}: model_type {model_type!r} ({listed}) cannot be imported; "
            f"supported: {', '.join(supported())}"
        )
    return config


def supported() -> tuple[str, ...]:
    """The model types of the Hugging Face architectures light_llm maps (interop/hf/)."""
    from light_llm.interop.hf import architectures

    return tuple(architectures())


def _read_json(path: Path, what: str):
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise HFImportError(f"{path}: not a text file (binary data where {what} should be)") from None
    except json.JSONDecodeError as error:
        raise HFImportError(f"{path}: not valid JSON ({error})") from None


def _json_type(value) -> str:
    names = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
    return names.get(type(value), "null" if value is None else type(value).__name__)


def spec_from_hf_config(where: Path, config: dict, tokenizer: Path | None):
    """The validated, resolved Spec whose model reproduces `config` (read from `where`,
    the file errors name)."""
    from light_llm.compiler.resolve import resolve_spec
    from light_llm.interop.hf import model_section_from_hf_config
    from light_llm.schemas.spec import Spec

    try:
        section = model_section_from_hf_config(config)
    except ValueError as error:  # HFConfigError names each field
        raise HFImportError(f"{where}: {error}") from None
    data = {"tokenizer": str(tokenizer)} if tokenizer is not None else {}
    try:
        return resolve_spec(Spec.model_validate({"spec_version": 1, "model": section, "data": data}))
    except ValueError as error:
        raise HFImportError(f"{where}: no valid light_llm spec: {error}") from None


def open_weights(source: Path):
    """The checkpoint of `source` (interop/hf_checkpoint.py): safetensors, one file or
    shards, or a pytorch_model.bin that torch.load(weights_only=True) accepts."""
    from light_llm.interop.hf_checkpoint import HFCheckpointError, open_checkpoint

    try:
        return open_checkpoint(source)
    except HFCheckpointError as error:
        raise HFImportError(str(error)) from None


def checkpoint_names(source: Path, ir, found: dict, model_type: str, described_by: str = "config.json",
                     spelled: Callable[[str], str] = str) -> dict[str, str]:
    """checkpoint name → *ForCausalLM name (the base-model prefix added where a checkpoint
    lacks it) of each tensor to read, once every tensor the model needs is present with its
    shape and none is left unused; `found` is name → (shape, dtype) from the file headers.
    Problems name the tensors as `spelled` spells a *ForCausalLM name (as the file does)."""
    from light_llm.compiler.build import build
    from light_llm.interop.hf import architecture, to_hf_state_dict

    prefix = architecture(model_type).base_prefix
    names = {name: name for name in found if not name.endswith(IGNORED_SUFFIXES)}
    if not any(name.startswith(prefix) for name in names):
        names = {name: name if name == "lm_head.weight" else prefix + name for name in names}
    aliases = architecture(model_type).checkpoint_aliases
    names = {name: aliases.get(theirs, theirs) for name, theirs in names.items()}
    with torch.device("meta"):
        shaped = to_hf_state_dict(ir, build(ir).state_dict(), model_type)
        shaped = architecture(model_type).checkpoint_layout(ir, shaped)  # as the files hold them
    expected = {name: tuple(tensor.shape) for name, tensor in shaped.items()}
    if ir.tie_embeddings:
        expected.pop("lm_head.weight")
    present = set(names.values())
    problems = []
    if missing := sorted(set(expected) - present):
        problems.append(f"missing tensors ({len(missing)}): {_names(list(map(spelled, missing)))}")
    if unexpected := sorted(present - set(expected) - {"lm_head.weight"}):
        problems.append(f"tensors the {model_type} config does not explain ({len(unexpected)}): "
                        f"{_names(list(map(spelled, unexpected)))}")
    wrong = [f"{spelled(theirs)} is {list(found[ours][0])} in the file, {list(expected[theirs])} for {described_by}"
             for ours, theirs in names.items() if theirs in expected and found[ours][0] != expected[theirs]]
    if wrong:
        problems.append(f"tensors of another shape ({len(wrong)}): {_names(wrong)}")
    if problems:
        raise HFImportError(f"{source}: weights do not match {described_by}: " + "; ".join(problems))
    if ir.tie_embeddings:  # a tied head some checkpoints store anyway: the embedding is read once
        names = {ours: theirs for ours, theirs in names.items() if theirs != "lm_head.weight"}
    return names


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN])
    return shown + (f", … {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def import_hf(source: Path, out: Path, *, verify: bool = True, seed: int = 0,
              display: PhaseDisplay | None = None) -> ImportResult:
    """Turns the Hugging Face folder `source` into the light_llm model folder `out`; a
    file (a GGUF, recognised by its magic) goes to import_gguf.py (`display`: its phases).

    Memory: the checkpoint's tensors are read once (fp32) and become the parameters of a
    model built with meta parameters (no random initialisation); the transformers model
    that verifies it is built the same way and holds the same tensors."""
    from light_llm.compiler.empty_build import assign_state, build_empty
    from light_llm.compiler.pipeline import lower_spec
    from light_llm.interop.hf import architecture, from_hf_state_dict
    from light_llm.interop.hf_checkpoint import HFCheckpointError
    from light_llm.model_folder import save_model_folder

    source, out = Path(source), Path(out)
    if source.is_file():
        from light_llm.import_gguf import import_gguf

        return import_gguf(source, out, verify=verify, seed=seed, display=display)
    config = read_hf_config(source)
    tokenizer = source / "tokenizer.json"
    tokenizer = tokenizer if tokenizer.is_file() else None
    spec = spec_from_hf_config(source / "config.json", config,
                               (out / "tokenizer.json").resolve() if tokenizer else None)
    ir = lower_spec(spec)
    chat = None
    if tokenizer is not None:
        check_tokenizer(tokenizer, ir.vocab_size)
        chat = checked_chat_files(source, tokenizer, source)
    checkpoint = open_weights(source)
    try:
        found = checkpoint.shapes()
        names = checkpoint_names(source, ir, found, config["model_type"])
        hf_state = {names[name]: tensor for name, tensor in checkpoint.read_fp32() if name in names}
        hf_state = architecture(config["model_type"]).module_layout(ir, hf_state)
    except HFCheckpointError as error:
        raise HFImportError(str(error)) from None
    model = build_empty(ir)
    missing, unexpected = assign_state(model, from_hf_state_dict(ir, hf_state, config["model_type"]))
    if missing or unexpected:  # a mapping object that disagrees with its model: a bug, said plainly
        raise HFImportError(f"{source}: the {config['model_type']} mapping left {missing or unexpected} unset")
    model.eval()
    notes = _notes(source, checkpoint, found, tokenizer)
    if chat is not None and chat.template is not None and importlib.util.find_spec("jinja2") is None:
        notes.append("chat template not checked (jinja2, a dependency of light_llm, is not installed: pip install jinja2)")
    parity = None
    if verify and importlib.util.find_spec("transformers") is not None:
        parity = _verify_against_transformers(source, model, hf_state, seed)
    elif verify:
        notes.append("not verified against transformers (not installed)")
    del hf_state
    origin = {"hf_model_type": config["model_type"], "hf_source": str(source.resolve())}
    save_model_folder(out, spec, model, tokenizer, origin=origin,
                      write_extra=None if chat is None else lambda staging: _write_chat_files(staging, chat))
    return ImportResult(out, config["model_type"], model.num_parameters(), parity, notes)


def _notes(source: Path, checkpoint, found: dict, tokenizer: Path | None) -> list[str]:
    notes = []
    if not checkpoint.safetensors:
        notes.append(f"read {', '.join(checkpoint.shards)} with torch.load(weights_only=True)")
    if len(checkpoint.shards) > 1:
        notes.append(f"read {len(checkpoint.shards)} shards")
    narrow = sorted({str(dtype).removeprefix("torch.") for _, dtype in found.values()
                     if dtype.is_floating_point and dtype != torch.float32})
    if narrow:
        notes.append(f"{'/'.join(narrow)} weights converted to float32 (the model folder stores fp32)")
    if tokenizer is None:
        notes.append(f"{source} has no tokenizer.json: the model folder has no tokenizer")
    return notes


def checked_chat_files(folder: Path, tokenizer: Path, source: Path) -> "ChatFiles":  # noqa: F821
    """The chat files of `folder` (the Hugging Face folder, or GGUF metadata written out),
    the template checked where jinja2 is installed; a problem refuses the import of `source`."""
    from light_llm.chat_template import ChatTemplateError, check_chat_template, read_chat_files
    from light_llm.tokenizer import load_tokenizer_file

    try:
        chat = read_chat_files(folder, load_tokenizer_file(tokenizer))
        if importlib.util.find_spec("jinja2") is not None:
            check_chat_template(chat)
    except ChatTemplateError as error:
        raise HFImportError(f"{source}: {error}; nothing imported") from None
    return chat


def _write_chat_files(staging: Path, chat: "ChatFiles") -> None:  # noqa: F821
    from light_llm.chat_template import generation_config_with, write_chat_files

    generation = generation_config_with(chat, chat.end_ids) if chat.end_ids or chat.generation_config else None
    write_chat_files(staging, chat, generation, template_file=False)


def check_tokenizer(path: Path, vocab_size: int) -> None:
    from light_llm.errors import TokenizerError
    from light_llm.tokenizer import check_tokenizer_fits, load_tokenizer_file

    try:
        check_tokenizer_fits(load_tokenizer_file(path), vocab_size, str(path))
    except TokenizerError as error:
        raise HFImportError(str(error).removeprefix("data.tokenizer: ")) from None


def _verify_against_transformers(source: Path, model: torch.nn.Module, hf_state: dict, seed: int):
    """Parity against transformers' own model of the folder: built by transformers from
    config.json with meta parameters, then given the checkpoint's tensors themselves
    (shared with `model`, not copied)."""
    from light_llm.compiler.empty_build import assign_state, parameters_on_meta
    from light_llm.interop.hf import architecture

    try:
        from transformers import AutoConfig, AutoModelForCausalLM

        config = AutoConfig.from_pretrained(str(source))
        with parameters_on_meta():
            reference = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    except Exception as error:  # transformers raises many types; its first line says what
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise HFImportError(f"{source}: transformers cannot load this folder: {first}") from None
    state = dict(hf_state)
    if model.ir.tie_embeddings and "lm_head.weight" not in state:
        state["lm_head.weight"] = state[architecture(config.model_type).embedding]
    missing, unexpected = assign_state(reference, state)
    if missing or unexpected:
        raise HFImportError(f"{source}: transformers' {type(reference).__name__} expects other tensors "
                            f"(missing: {_names(missing)}; unexpected: {_names(unexpected)})")
    return parity_with(source, model, reference, seed)


def parity_with(source: Path, model: torch.nn.Module, reference: torch.nn.Module, seed: int):
    """The parity report of `model` against the transformers model `reference`; a model
    outside the gate is an HFImportError (nothing is imported)."""
    from light_llm.exports.verify import require_parity, verify
    from light_llm.interop.hf_run import hf_run
    from light_llm.runtime.geometry import Geometry

    report = verify(model, hf_run(reference.eval(), Geometry.from_ir(model.ir)), model.ir, seed=seed)
    try:
        return require_parity(report, "light_llm vs transformers", "nothing imported")
    except ValueError as error:
        raise HFImportError(f"{source}: {error}") from None
