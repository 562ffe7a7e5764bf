"""What the PyTorch-native export folders (torchscript, pt2, aoti, hf) share with the ONNX
one: tolerances from the spec, a parity gate that keeps a failed export from appearing,
and light_llm.json (resolved spec, versions, geometry, sha256s, parity report, figures)."""

from __future__ import annotations

import json
import platform
from pathlib import Path

from light_llm.exports.folder import FORMAT, FORMAT_VERSION, sha256
from light_llm.exports.parity import ParityReport
from light_llm.exports.result import ExportError, ParityError
from light_llm.runtime.geometry import Geometry


def tolerances(folder, atol: float | None, rtol: float | None) -> tuple[float, float]:
    """The options given, else the spec's export.atol / export.rtol."""
    defaults = folder.spec.export
    return atol or defaults.atol, defaults.rtol if rtol is None else rtol


def require_parity(
    report: ParityReport, what: str, consequence: str = "no export written"
) -> ParityReport:
    """The report, or a ParityError naming the worst failed check."""
    if report.passed:
        return report
    worst = max(report.failures(), key=lambda check: check.max_abs_error)
    raise ParityError(
        f"{what} parity check failed, {consequence}: {worst.name}: max |Δlogit| "
        f"{worst.max_abs_error:.2e} > atol {report.atol:g} (+ rtol {report.rtol:g}) "
        f"{worst.detail}".rstrip(),
        report,
    )


def export_failed(what: str, error: Exception) -> ExportError:
    """A one-line ExportError for an exception raised by torch while exporting."""
    text = str(error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    return ExportError(f"{what} export failed: {first}")


def manifest(
    target: str,
    folder,
    geometry: Geometry,
    report: ParityReport,
    staging: Path,
    model_files: list[str],
    figures: dict | None = None,
) -> dict:
    import torch

    from light_llm import __version__

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "target": target,
        "model_file": model_files[0],
        "versions": {"light_llm": __version__, "torch": torch.__version__,
                     "python": platform.python_version()},
        "spec": json.loads(folder.spec.to_json()),
        "source": {"path": str(Path(folder.path).resolve()),
                   "weights_sha256": sha256(Path(folder.path) / "model.safetensors")},
        "geometry": geometry.to_dict(),
        "inputs": geometry.input_names(),
        "outputs": geometry.output_names(),
        "figures": figures or {},
        "sha256": {name: sha256(staging / name) for name in sorted(model_files)},
        "parity": report.to_dict(),
    }


def write_side_files(staging: Path, folder, ir, geometry: Geometry) -> list[str]:
    """tokenizer.json, tokenizer_config.json and (where the spec maps) config.json, as in
    the ONNX folder but without genai_config.json, which describes an ONNX graph. Returns
    the notes on what was left out."""
    from light_llm.exports.interop_files import write_interop_files

    return write_interop_files(staging, folder, ir, geometry, genai=False).notes
