"""What every export target (onnx, torchscript, pt2, aoti, hf) shares: tolerances from
the spec, light_llm.json (resolved spec, versions, geometry, sha256s, parity report,
figures, checked against the manifest model the runtime reads) and the side files.
The parity gate is exports/verify.py, the staged folder exports/folder.py, the trace
wrapper of the torch targets exports/trace.py."""

from __future__ import annotations

import json
import platform
from pathlib import Path

from light_llm.exports.folder import sha256
from light_llm.exports.parity import ParityReport
from light_llm.runtime.geometry import Geometry
from light_llm.runtime.manifest import FORMAT, FORMAT_VERSION, ExportManifest


def tolerances(folder, atol: float | None, rtol: float | None) -> tuple[float, float]:
    """The options given, else the spec's export.atol / export.rtol."""
    defaults = folder.spec.export
    return atol or defaults.atol, defaults.rtol if rtol is None else rtol


def manifest(
    target: str,
    folder,
    geometry: Geometry,
    report: ParityReport,
    staging: Path,
    model_files: list[str],
    side: "InteropFiles",  # noqa: F821
    figures: dict | None = None,
    *,
    versions: dict[str, str] | None = None,
    extra: dict | None = None,
) -> dict:
    """light_llm.json of an export: `model_files[0]` is the artifact; `versions` adds the
    versions of the target's libraries, `extra` the target's own entries."""
    import torch

    from light_llm import __version__

    data = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "target": target,
        "model_file": model_files[0],
        "versions": {"light_llm": __version__, "torch": torch.__version__, **(versions or {}),
                     "python": platform.python_version()},
        "spec": json.loads(folder.spec.to_json()),
        "source": {"path": str(Path(folder.path).resolve()),
                   "weights_sha256": sha256(Path(folder.path) / "model.safetensors")},
        "geometry": geometry.to_dict(),
        "inputs": geometry.input_names(),
        "outputs": geometry.output_names(),
        "special_tokens": {"eos_id": side.eos_id, "pad_id": side.pad_id, "end_ids": list(side.end_ids)},
        "hf_model_type": side.hf_model_type,
        **(extra or {}),
        "figures": figures or {},
        "sha256": {name: sha256(staging / name) for name in sorted(model_files)},
        "parity": report.to_dict(),
    }
    ExportManifest.model_validate(data)  # what the runtime and `lightllm verify` will accept
    return data


def write_side_files(staging: Path, folder, ir, geometry: Geometry, genai: bool = False,
                     hf_architecture: str | None = None):
    """tokenizer.json, tokenizer_config.json, config.json (where the spec maps onto a
    Hugging Face architecture) and, with `genai`, genai_config.json (it describes an ONNX
    graph). Returns what was written (InteropFiles: files, notes, special tokens)."""
    from light_llm.exports.interop_files import write_interop_files

    return write_interop_files(staging, folder, ir, geometry, genai=genai, hf_architecture=hf_architecture)
