"""Hugging Face folder → light_llm model folder (spec.resolved.json, model.safetensors,
tokenizer.json), which `lightllm train` can continue and `lightllm export` exports.

Reads config.json and safetensors weights only (one file or shards with an index; pickle
checkpoints are refused). The spec comes from the mapping objects of interop/hf/; every
tensor the spec needs must be present and no unknown tensor may be left over, so an
import either reproduces the checkpoint or says what is wrong. Where transformers is
installed the result is verified against the Hugging Face model itself (through the
export parity gate, which is why this workflow sits above exports/, beside the CLI).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from light_llm.errors import LightLLMError

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


def spec_from_hf_config(source: Path, config: dict, tokenizer: Path | None):
    """The validated, resolved Spec whose model reproduces `config`."""
    from light_llm.compiler.resolve import resolve_spec
    from light_llm.interop.hf import model_section_from_hf_config
    from light_llm.schemas.spec import Spec

    try:
        section = model_section_from_hf_config(config)
    except ValueError as error:  # HFConfigError names each field
        raise HFImportError(f"{source / 'config.json'}: {error}") from None
    data = {"tokenizer": str(tokenizer)} if tokenizer is not None else {}
    try:
        return resolve_spec(Spec.model_validate({"spec_version": 1, "model": section, "data": data}))
    except ValueError as error:
        raise HFImportError(f"{source / 'config.json'}: no valid light_llm spec: {error}") from None


def read_hf_weights(source: Path) -> dict[str, torch.Tensor]:
    """Every tensor of model.safetensors (or its shards), in fp32."""
    from safetensors.torch import load_file

    index = source / "model.safetensors.index.json"
    if index.is_file():
        shards = _shards(index)
    elif (source / "model.safetensors").is_file():
        shards = ["model.safetensors"]
    elif any(source.glob("*.bin")) or any(source.glob("*.pt")):
        raise HFImportError(
            f"{source}: only safetensors weights are read (pickle checkpoints are not loaded); "
            "re-save with save_pretrained(path, safe_serialization=True)"
        )
    else:
        raise HFImportError(f"{source}: no model.safetensors (nor model.safetensors.index.json)")
    state: dict[str, torch.Tensor] = {}
    for shard in shards:
        try:
            state.update(load_file(str(source / shard)))
        except Exception as error:  # safetensors raises several types for damaged files
            raise HFImportError(f"{source / shard}: cannot read weights: {error}") from None
    return {name: t.float() if t.is_floating_point() else t for name, t in state.items()}


def _shards(index: Path) -> list[str]:
    """The shard files a model.safetensors.index.json names, each a file of its folder."""
    data = _read_json(index, "model.safetensors.index.json")
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise HFImportError(f"{index}: expected an object with a non-empty 'weight_map' of tensor → file")
    shards = sorted(set(weight_map.values()), key=str)
    for shard in shards:
        if not isinstance(shard, str) or Path(shard).name != shard:
            raise HFImportError(f"{index}: weight_map names {shard!r}; allowed: a file name in {index.parent}")
        if not (index.parent / shard).is_file():
            raise HFImportError(f"{index}: names {shard}, which is not in {index.parent}")
    return shards


def check_tensor_names(source: Path, ir, hf_state: dict, model_type: str) -> dict:
    """`hf_state` with the base-model prefix added where a checkpoint lacks it, once every
    tensor the model needs is present and none is left unused."""
    from light_llm.compiler.build import build
    from light_llm.interop.hf import architecture, to_hf_state_dict

    prefix = architecture(model_type).base_prefix
    if not any(name.startswith(prefix) for name in hf_state):
        hf_state = {name if name == "lm_head.weight" else prefix + name: t for name, t in hf_state.items()}
    with torch.device("meta"):
        expected = set(to_hf_state_dict(ir, build(ir).state_dict()))
    if ir.tie_embeddings:
        expected.discard("lm_head.weight")
    found = {name for name in hf_state if not name.endswith(IGNORED_SUFFIXES)}
    problems = []
    if missing := sorted(expected - found):
        problems.append(f"missing tensors ({len(missing)}): {_names(missing)}")
    if unexpected := sorted(found - expected - {"lm_head.weight"}):
        problems.append(f"tensors the {model_type} config does not explain ({len(unexpected)}): "
                        f"{_names(unexpected)}")
    if problems:
        raise HFImportError(f"{source}: weights do not match config.json: " + "; ".join(problems))
    return hf_state


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN])
    return shown + (f", … {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def import_hf(source: Path, out: Path, *, verify: bool = True, seed: int = 0) -> ImportResult:
    """Turns the Hugging Face folder `source` into the light_llm model folder `out`."""
    import importlib.util

    from light_llm.compiler.build import build
    from light_llm.compiler.pipeline import lower_spec
    from light_llm.interop.hf import from_hf_state_dict
    from light_llm.model_folder import save_model_folder

    source, out = Path(source), Path(out)
    config = read_hf_config(source)
    tokenizer = source / "tokenizer.json"
    tokenizer = tokenizer if tokenizer.is_file() else None
    spec = spec_from_hf_config(source, config, (out / "tokenizer.json").resolve() if tokenizer else None)
    ir = lower_spec(spec)
    if tokenizer is not None:
        _check_tokenizer(tokenizer, ir.vocab_size)
    hf_state = check_tensor_names(source, ir, read_hf_weights(source), config["model_type"])
    model = build(ir).eval()
    try:
        model.load_state_dict(from_hf_state_dict(ir, hf_state))
    except RuntimeError as error:  # shape mismatches, listed by torch one per line
        lines = [line.strip() for line in str(error).splitlines()[1:] if line.strip()]
        raise HFImportError(f"{source}: weights do not match config.json: {'; '.join(lines[:SHOWN])}") from None
    notes = [] if tokenizer else [f"{source} has no tokenizer.json: the model folder has no tokenizer"]
    parity = None
    if verify and importlib.util.find_spec("transformers") is not None:
        parity = _verify_against_transformers(source, model, seed)
    elif verify:
        notes.append("not verified against transformers (not installed)")
    save_model_folder(out, spec, model, tokenizer)
    return ImportResult(out, config["model_type"], model.num_parameters(), parity, notes)


def _check_tokenizer(path: Path, vocab_size: int) -> None:
    from light_llm.tokenizer import TokenizerError, check_tokenizer_fits, load_tokenizer_file

    try:
        check_tokenizer_fits(load_tokenizer_file(path), vocab_size, str(path))
    except TokenizerError as error:
        raise HFImportError(str(error).removeprefix("data.tokenizer: ")) from None


def _verify_against_transformers(source: Path, model: torch.nn.Module, seed: int):
    from light_llm.exports.hf import load_hf_folder
    from light_llm.exports.verify import require_parity
    from light_llm.exports.verify import verify
    from light_llm.interop.hf_run import hf_run
    from light_llm.runtime.geometry import Geometry

    geometry = Geometry.from_ir(model.ir)
    try:
        reference = load_hf_folder(source)
    except Exception as error:  # transformers raises many types; its first line says what
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise HFImportError(f"{source}: transformers cannot load this folder: {first}") from None
    report = verify(model, hf_run(reference, geometry), model.ir, seed=seed)
    try:
        return require_parity(report, "light_llm vs transformers", "nothing imported")
    except ValueError as error:
        raise HFImportError(f"{source}: {error}") from None
