"""`lightllm verify DIR`: check an export folder again, of any target it can load (ONNX,
TorchScript, torch.export, AOTInductor, Hugging Face: OPENERS; GGUF).

First the manifest (checked before use) and the files: each sha256 recorded in
light_llm.json must still match (a graph edited after export is reported as such). Then
parity, with the same settings as at export time, against the model folder the export
was made from (recorded in light_llm.json, or given as `source`); a quantized export meets
the quantized gate again (exports/text_gate.py), with the thresholds it was exported under.
A GGUF file is read again by transformers and llama.cpp (exports/gguf_checks.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from light_llm.errors import ExportError
from light_llm.exports.folder import sha256
from light_llm.exports.parity import ParityReport
from light_llm.exports.text_gate import GateThresholds, apply_gate
from light_llm.runtime.generator import Run
from light_llm.runtime.manifest import ExportManifest, read_manifest
from light_llm.runtime.slot_rotation import slot_rotation

SOURCE_WEIGHTS = "model.safetensors"


def check_files(folder: Path, manifest: ExportManifest) -> None:
    for name, expected in manifest.sha256.items():
        path = folder / name
        if not path.is_file():
            raise ExportError(f"{path}: missing (the export folder is incomplete)")
        if sha256(path) != expected:
            raise ExportError(
                f"{path}: altered after export (sha256 {sha256(path)[:12]}… != recorded "
                f"{expected[:12]}…); export again with `lightllm export SOURCE --onnx`"
            )


def _onnx(folder: Path, manifest: ExportManifest) -> Run:
    from light_llm.runtime.exported import open_session

    return open_session(folder / manifest.model_file)


def _torchscript(folder: Path, manifest: ExportManifest) -> Run:
    from light_llm.exports.torchscript import load_torchscript
    from light_llm.generation.eager_signature import run_module

    return run_module(load_torchscript(folder), manifest.graph_geometry)


def _pt2(folder: Path, manifest: ExportManifest) -> Run:
    from light_llm.exports.pt2 import load_program
    from light_llm.generation.eager_signature import run_module

    return run_module(load_program(folder), manifest.graph_geometry)


def _aoti(folder: Path, manifest: ExportManifest) -> Run:
    from light_llm.exports.aoti import load_package
    from light_llm.generation.eager_signature import run_module

    return run_module(load_package(folder), manifest.graph_geometry)


def _hf(folder: Path, manifest: ExportManifest) -> Run:
    from light_llm.exports.hf import load_hf_folder
    from light_llm.interop.hf_run import hf_run

    return hf_run(load_hf_folder(folder), manifest.graph_geometry)


# target of light_llm.json → the export loaded as a `Run`, as its exporter checked it
OPENERS: dict[str, Callable[[Path, ExportManifest], Run]] = {
    "onnx": _onnx, "torchscript": _torchscript, "pt2": _pt2, "aoti": _aoti, "hf": _hf,
}
CHECKED = (*OPENERS, "gguf")  # GGUF: read again by transformers and llama.cpp (_reverify_gguf)


def reverify(folder: str | Path, source: str | Path | None = None, seed: int | None = None) -> ParityReport:
    from light_llm.compiler.pipeline import lower_spec
    from light_llm.exports.verify import verify
    from light_llm.model_folder import load_model_folder

    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest.target not in CHECKED:
        raise ExportError(f"{folder}: a {manifest.target} export; `lightllm verify` checks "
                          f"{', '.join(CHECKED)} exports")
    check_files(folder, manifest)
    source = Path(source or manifest.source.path)
    if not (source / SOURCE_WEIGHTS).is_file():
        raise ExportError(f"the model folder this export was made from ({source}) is gone; "
                          "pass it with --source")
    recorded = manifest.source.weights_sha256
    if recorded and sha256(source / SOURCE_WEIGHTS) != recorded:
        raise ExportError(f"{source / SOURCE_WEIGHTS}: the weights changed since this export; "
                          "export again to verify the new weights")
    model_folder = load_model_folder(source)
    if manifest.target == "gguf":
        return _reverify_gguf(folder / manifest.model_file, manifest, model_folder, seed)
    session = OPENERS[manifest.target](folder, manifest)
    parity = manifest.parity
    model = model_folder.build(target="eager")
    ir = lower_spec(model_folder.spec, target="export") if manifest.target == "onnx" else model.ir  # as exported
    rotation = slot_rotation(folder / manifest.model_file) if manifest.target == "onnx" else None
    report = verify(model, session, ir, atol=parity.atol, rtol=parity.rtol, quantized=parity.mode == "quantized",
                    seed=parity.seed if seed is None else seed, slot_rotation=rotation)
    if parity.mode == "quantized":
        apply_gate(report, model_folder, lambda: session, lambda: model, manifest.graph_geometry,
                   _thresholds(manifest, model_folder))
    return report


def _thresholds(manifest: ExportManifest, model_folder) -> GateThresholds:
    """The thresholds the export was held to (light_llm.json), or, for an export written
    before the quantized gate, those of the source spec for its method."""
    recorded = (manifest.parity.model_extra or {}).get("thresholds")
    if recorded:
        return GateThresholds.from_dict(recorded)
    return GateThresholds.of(model_folder.spec.export, getattr(manifest, "quantize", "int4"))


def _reverify_gguf(path: Path, manifest: ExportManifest, model_folder, seed: int | None) -> ParityReport:
    from light_llm.compiler.pipeline import lower_spec
    from light_llm.exports.gguf_checks import check_gguf

    parity = manifest.parity
    thresholds = _thresholds(manifest, model_folder) if parity.mode == "quantized" else None
    return check_gguf(path, model_folder, lower_spec(model_folder.spec, target="eager"), atol=parity.atol,
                      rtol=parity.rtol, seed=parity.seed if seed is None else seed, thresholds=thresholds)
