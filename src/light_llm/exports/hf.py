"""Hugging Face export: a folder `transformers.AutoModelForCausalLM.from_pretrained` loads
(config.json, model.safetensors, tokenizer.json, tokenizer_config.json), for specs that
map onto a Hugging Face architecture (interop/hf/ decides): the one the model was imported
from where it still fits (origin.json's hf_model_type, kept through `train --init-from`),
else the first that fits, or the one `architecture` (--hf-architecture) names.

The folder is verified like every other export: transformers loads it from the staging
folder and runs the contract (prefill with padding, KV-cache decode, greedy generation)
against eager light_llm. A spec that maps onto no architecture is refused with every
option that prevents each mapping.
"""

from __future__ import annotations

from pathlib import Path

import torch

from light_llm.errors import ExportError
from light_llm.exports.result import ExportResult

WEIGHTS_FILE = "model.safetensors"


def hf_state_dict(model: torch.nn.Module, model_type: str | None = None) -> dict[str, torch.Tensor]:
    """The HF checkpoint tensors of `model` (as the architecture `model_type`, else the
    first that fits), contiguous, each stored once (interop.hf.to_hf_checkpoint)."""
    from light_llm.interop.hf import to_hf_checkpoint

    state = to_hf_checkpoint(model.ir, model.state_dict(), model_type)
    return {name: tensor.detach().contiguous() for name, tensor in state.items()}


def save_hf_weights(model: torch.nn.Module, path: Path, model_type: str | None = None) -> None:
    from safetensors.torch import save_file

    save_file(hf_state_dict(model, model_type), str(path), metadata={"format": "pt"})


def chosen_architecture(folder, ir, required: str | None) -> tuple[str, str | None]:
    """(model_type to write, a note where the imported one could not be kept); an
    architecture that cannot be named or cannot express the model is an ExportError."""
    from light_llm.interop.hf import HFConfigError, UnmappableSpec, choose_architecture, unmappable_options

    try:
        return choose_architecture(ir, folder.hf_model_type, required)
    except HFConfigError as error:
        raise ExportError(f"--hf-architecture {required}: {error}") from None
    except UnmappableSpec as error:
        fits = [name for name, found in unmappable_options(ir).items() if not found]
        raise ExportError(
            f"--hf-architecture {required}: {required} cannot express this model: "
            f"{', '.join(error.reasons[required])}; architectures that fit: {', '.join(fits) or 'none'}"
        ) from None


def unmappable_error(ir) -> ExportError | None:
    """None where `ir` maps onto a Hugging Face architecture, else the error to raise:
    every option in the way, each once, those that block the most architectures first."""
    from light_llm.interop.hf import hf_model_type, unmappable_options

    if hf_model_type(ir) is not None:
        return None
    return ExportError(f"--hf: no Hugging Face architecture reproduces this model: "
                       f"{blockers_line(unmappable_options(ir))}")


def blockers_line(blocked: dict[str, list[str]]) -> str:
    """Every option of `blocked` (architecture → "path=value (ARCH needs X)" reasons) once,
    with what each architecture needs, those that block the most architectures first."""
    needs: dict[str, dict[str, list[str]]] = {}  # option → what is needed → architectures
    for architecture, reasons in blocked.items():
        for reason in reasons:  # "path=value (ARCH needs X)"
            option, _, need = reason.partition(" (")
            need = need.removesuffix(")").removeprefix(f"{architecture} needs ")
            needs.setdefault(option, {}).setdefault(need, []).append(architecture)
    ranked = sorted(needs.items(), key=lambda item: -sum(len(names) for names in item[1].values()))
    return ", ".join(
        f"{option} ({'; '.join(_who_needs(names, need, len(blocked)) for need, names in by_need.items())})"
        for option, by_need in ranked
    )


def _who_needs(architectures: list[str], need: str, count: int) -> str:
    who = "all" if len(architectures) == count > 1 else ", ".join(architectures)
    if not need:
        return who
    return f"{who} {'needs' if len(architectures) == 1 else 'need'} {need}"


def load_hf_folder(path: Path) -> torch.nn.Module:
    """The transformers model of an HF folder, in fp32 and eval mode."""
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a "Loading weights" bar per load otherwise
    return AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()


def export_hf(
    folder, out_dir: Path, *, atol: float | None = None, rtol: float | None = None, seed: int = 0,
    architecture: str | None = None,
) -> ExportResult:
    """`folder`: a ModelFolder. Writes the Hugging Face folder into `out_dir` once
    transformers, loading it, gives eager light_llm's logits. `architecture`: the
    model_type to write (default: the imported one where it fits, else the first that fits)."""
    import importlib.util

    from light_llm.exports.core import manifest, tolerances, write_side_files
    from light_llm.exports.folder import MANIFEST, staged_folder, write_json
    from light_llm.exports.verify import require_parity, verify
    from light_llm.runtime.geometry import Geometry

    atol, rtol = tolerances(folder, atol, rtol)
    model = folder.build(target="eager")
    if architecture is None and (error := unmappable_error(model.ir)) is not None:
        raise error
    model_type, note = chosen_architecture(folder, model.ir, architecture)
    if importlib.util.find_spec("transformers") is None:
        raise ExportError("--hf: verifying the folder needs transformers: `pip install transformers`")
    geometry = Geometry.from_ir(model.ir)
    with staged_folder(out_dir) as staging:
        save_hf_weights(model, staging / WEIGHTS_FILE, model_type)
        side = write_side_files(staging, folder, model.ir, geometry, hf_architecture=model_type)
        from light_llm.interop.hf_run import hf_run

        run = hf_run(load_hf_folder(staging), geometry)
        report = require_parity(
            verify(model, run, model.ir, atol=atol, rtol=rtol, seed=seed), "Hugging Face"
        )
        write_json(staging / MANIFEST, manifest("hf", folder, geometry, report, staging, [WEIGHTS_FILE], side))
        files = sorted(item.name for item in staging.iterdir())
    return ExportResult("hf", Path(out_dir), files, report, [note, *side.notes] if note else side.notes)

