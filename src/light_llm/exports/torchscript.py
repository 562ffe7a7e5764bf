"""TorchScript: the contract's prefill + decode signature traced into `model.pt`.

The archive needs neither light_llm nor Python source to run: `torch.jit.load` in Python
or libtorch in C++ gives a module whose positional inputs and outputs are those of the
ONNX graph, in the order of `signature.json` (also stored inside the archive as an extra
file). Traced with batch 2, sequence 3 and past 4, so none of those sizes is baked in;
verified, like ONNX, with past length 0 and sequence length 1 among other shapes.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from light_llm.exports.result import ExportResult
from light_llm.exports.trace import trace
from light_llm.runtime.geometry import Geometry

MODEL_FILE = "model.pt"
SIGNATURE_FILE = "signature.json"


def trace_torchscript(model: torch.nn.Module, geometry: Geometry) -> torch.jit.ScriptModule:
    """The traced signature module of `model` (an export-target build)."""
    return trace("TorchScript", model, geometry,
                 lambda module, args, _shapes: torch.jit.trace(module, args, check_trace=False))


def signature_json(geometry: Geometry) -> str:
    return json.dumps(
        {"inputs": geometry.input_names(), "outputs": geometry.output_names(),
         "geometry": geometry.to_dict()},
        indent=2,
    )


def save_torchscript(traced: torch.jit.ScriptModule, geometry: Geometry, folder: Path) -> list[str]:
    """Writes model.pt (with the signature inside) and signature.json into `folder`."""
    signature = signature_json(geometry)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated in torch
        torch.jit.save(traced, str(folder / MODEL_FILE), _extra_files={SIGNATURE_FILE: signature})
    (folder / SIGNATURE_FILE).write_text(signature + "\n")
    return [MODEL_FILE, SIGNATURE_FILE]


def load_torchscript(folder: Path) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(str(Path(folder) / MODEL_FILE), map_location="cpu").eval()


def export_torchscript(
    folder, out_dir: Path, *, atol: float | None = None, rtol: float | None = None, seed: int = 0
) -> ExportResult:
    """`folder`: a ModelFolder. Writes model.pt, signature.json and light_llm.json into
    `out_dir`, only once the loaded archive matches eager PyTorch."""
    from light_llm.exports.core import manifest, tolerances, write_side_files
    from light_llm.exports.folder import MANIFEST, staged_folder, write_json
    from light_llm.exports.verify import require_parity, verify
    from light_llm.generation.eager_signature import run_module

    atol, rtol = tolerances(folder, atol, rtol)
    reference = folder.build(target="eager")
    geometry = Geometry.from_ir(reference.ir)
    traced = trace_torchscript(folder.build(target="export"), geometry)
    with staged_folder(out_dir) as staging:
        files = save_torchscript(traced, geometry, staging)
        run = run_module(load_torchscript(staging), geometry)
        report = require_parity(
            verify(reference, run, reference.ir, atol=atol, rtol=rtol, seed=seed), "TorchScript"
        )
        side = write_side_files(staging, folder, reference.ir, geometry)
        write_json(staging / MANIFEST, manifest("torchscript", folder, geometry, report, staging, files, side))
        files = sorted(item.name for item in staging.iterdir())
    return ExportResult("torchscript", Path(out_dir), files, report, side.notes)
