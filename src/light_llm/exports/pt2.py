"""torch.export: the contract's signature as an ExportedProgram saved to `model.pt2`.

Batch, sequence, past and total lengths are dynamic dimensions with the contract's
names (traced at 2, 3, 4 and 7, so none is specialised; past length 0 runs too). Load it
with `torch.export.load("model.pt2").module()`; no light_llm import is needed. With
`aoti`, the program is also compiled by AOTInductor into `model.aoti.pt2` (see aoti.py).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from light_llm.exports.result import ExportResult
from light_llm.exports.trace import export_failed, trace
from light_llm.runtime.geometry import Geometry

PROGRAM_FILE = "model.pt2"


def export_program(model: torch.nn.Module, geometry: Geometry) -> torch.export.ExportedProgram:
    """The signature module of `model` (an export-target build) through torch.export."""
    return trace("torch.export", model, geometry, lambda module, args, shapes: torch.export.export(
        module, args, dynamic_shapes=shapes, strict=False))


def save_program(program: torch.export.ExportedProgram, folder: Path) -> str:
    torch.export.save(program, str(folder / PROGRAM_FILE))
    return PROGRAM_FILE


def load_program(folder: Path) -> torch.nn.Module:
    """The saved program as a callable module (positional inputs in contract order)."""
    return torch.export.load(str(Path(folder) / PROGRAM_FILE)).module()


def export_pt2(
    folder,
    out_dir: Path,
    *,
    aoti: bool = False,
    atol: float | None = None,
    rtol: float | None = None,
    seed: int = 0,
) -> ExportResult:
    """`folder`: a ModelFolder. Writes model.pt2 (and with `aoti`, model.aoti.pt2) and
    light_llm.json into `out_dir` once every artifact matches eager PyTorch. The manifest's
    figures hold export and compile seconds and decode tokens/s next to eager's."""
    from light_llm.exports.decode_speed import decode_speed_report
    from light_llm.exports.core import manifest, tolerances, write_side_files
    from light_llm.exports.folder import MANIFEST, staged_folder, write_json
    from light_llm.exports.verify import require_parity, verify
    from light_llm.generation.eager_signature import run_module, signature_module

    atol, rtol = tolerances(folder, atol, rtol)
    reference = folder.build(target="eager")
    geometry = Geometry.from_ir(reference.ir)
    start = time.perf_counter()
    program = export_program(folder.build(target="export"), geometry)
    figures = {"export_seconds": round(time.perf_counter() - start, 2)}
    with staged_folder(out_dir) as staging:
        files = [save_program(program, staging)]
        runs = {"pt2": run_module(load_program(staging), geometry)}
        if aoti:
            from light_llm.exports.aoti import compile_package, load_package

            try:
                package, seconds = compile_package(program, staging)
            except Exception as error:
                raise export_failed("AOTInductor", error) from error
            files.append(package)
            figures["aoti_compile_seconds"] = round(seconds, 2)
            runs["aoti"] = run_module(load_package(staging), geometry)
        reports = {
            name: require_parity(verify(reference, run, reference.ir, atol=atol, rtol=rtol, seed=seed),
                                 {"pt2": "torch.export", "aoti": "AOTInductor"}[name])
            for name, run in runs.items()
        }
        eager = run_module(signature_module(reference, geometry), geometry)
        figures |= decode_speed_report({"eager": eager, **runs}, geometry, baseline="eager")
        side = write_side_files(staging, folder, reference.ir, geometry)
        target = "aoti" if aoti else "pt2"
        report = reports[target]
        primary_first = files[::-1]  # model.aoti.pt2 is the artifact of --aoti
        data = manifest(target, folder, geometry, report, staging, primary_first, side, figures)
        data["parity_by_file"] = {file: r.to_dict() for file, r in zip(files, reports.values())}
        write_json(staging / MANIFEST, data)
        files = sorted(item.name for item in staging.iterdir())
    notes = [_figures_note(figures), *side.notes]
    return ExportResult(target, Path(out_dir), files, report, notes)


def _figures_note(figures: dict) -> str:
    parts = [f"torch.export {figures['export_seconds']:.1f} s"]
    if "aoti_compile_seconds" in figures:
        parts.append(f"AOTInductor compile {figures['aoti_compile_seconds']:.1f} s")
    speeds = [f"{key.removesuffix('_decode_tokens_per_s')} {value:.0f}"
              for key, value in figures.items() if key.endswith("_decode_tokens_per_s")]
    ratios = [f"{key.replace('_vs_', ' ')} ×{value:.2f}" for key, value in figures.items() if "_vs_" in key]
    if speeds:
        parts.append("decode tokens/s (batch 1): " + ", ".join(speeds) + " (" + ", ".join(ratios) + ")")
    return "; ".join(parts)
