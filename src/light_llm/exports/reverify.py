"""`lightllm verify DIR`: check an ONNX or GGUF export folder again.

First the manifest (checked before use) and the files: each sha256 recorded in
light_llm.json must still match (a graph edited after export is reported as such). Then
parity, with the same settings as at export time, against the model folder the export
was made from (recorded in light_llm.json, or given as `source`); a quantized export meets
the quantized gate again (exports/text_gate.py), with the thresholds it was exported under.
A GGUF file is read again by transformers and llama.cpp (exports/gguf_checks.py).
"""

from __future__ import annotations

from pathlib import Path

from light_llm.errors import ExportError
from light_llm.exports.folder import sha256
from light_llm.exports.parity import ParityReport
from light_llm.exports.text_gate import GateThresholds, apply_gate
from light_llm.runtime.manifest import ExportManifest, read_manifest

SOURCE_WEIGHTS = "model.safetensors"
CHECKED = ("onnx", "gguf")


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


def reverify(folder: str | Path, source: str | Path | None = None, seed: int | None = None) -> ParityReport:
    from light_llm.compiler.pipeline import lower_spec
    from light_llm.exports.verify import verify
    from light_llm.model_folder import load_model_folder
    from light_llm.runtime.exported import open_session

    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest.target not in CHECKED:
        raise ExportError(f"{folder}: a {manifest.target} export; `lightllm verify` checks "
                          f"{' and '.join(CHECKED)} exports")
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
    parity = manifest.parity
    if manifest.target == "gguf":
        return _reverify_gguf(folder / manifest.model_file, manifest, model_folder, seed)
    session = open_session(folder / manifest.model_file)
    model, ir = model_folder.build(target="eager"), lower_spec(model_folder.spec, target="export")
    report = verify(model, session, ir, atol=parity.atol, rtol=parity.rtol, quantized=parity.mode == "quantized",
                    seed=parity.seed if seed is None else seed)
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
