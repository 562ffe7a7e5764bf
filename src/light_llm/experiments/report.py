"""One row per run folder: what `lightllm compare` shows, read from the run's own files.

    RUN/spec.resolved.json        parameters and forward FLOPs per token (from the IR)
    RUN/metrics.jsonl             tokens, validation losses, tokens/s, wall time
    RUN/exports/*/light_llm.json  parity of each export, and decode tokens/s where measured
                                  (with measure_decode, ONNX exports are timed here)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from light_llm.run_logs.metrics import RunMetrics, RunReadError, read_metrics

SPEC_FILE = "spec.resolved.json"
EXPORTS_DIR = "exports"
MANIFEST = "light_llm.json"


@dataclass(frozen=True)
class ExportSummary:
    target: str
    parity_passed: bool | None
    max_abs_error: float | None
    decode_tokens_per_second: float | None

    def describe(self) -> str:
        parity = {True: "passed", False: "FAILED", None: "not checked"}[self.parity_passed]
        error = f" {self.max_abs_error:.1e}" if self.max_abs_error is not None else ""
        speed = f", {self.decode_tokens_per_second:,.0f} tok/s" if self.decode_tokens_per_second else ""
        return f"{self.target} {parity}{error}{speed}"


@dataclass(frozen=True)
class RunReport:
    name: str
    path: Path
    parameters: int
    forward_flops_per_token: int
    metrics: RunMetrics
    exports: tuple[ExportSummary, ...]

    @property
    def perplexity(self) -> float | None:
        loss = self.metrics.final_validation
        return math.exp(min(loss, 50.0)) if loss is not None else None


def read_run(run: Path, name: str | None = None, *, measure_decode: bool = False) -> RunReport:
    """Everything compare needs from one run folder; raises RunReadError naming the file.
    `measure_decode`: time the decode of ONNX exports that recorded no decode speed."""
    if not run.is_dir():
        raise RunReadError(f"{run}: no such run folder")
    parameters, flops = _costs(_spec_file(run))
    exports = _exports(run / EXPORTS_DIR, measure_decode)
    return RunReport(name or run.name, run, parameters, flops, read_metrics(run), exports)


def _spec_file(run: Path) -> Path:
    """RUN/spec.resolved.json; for a run still in training, its newest checkpoint's copy."""
    if (run / SPEC_FILE).is_file():
        return run / SPEC_FILE
    saved = sorted((run / "checkpoints").glob(f"step_*/{SPEC_FILE}"))
    return saved[-1] if saved else run / SPEC_FILE


def _costs(spec_file: Path) -> tuple[int, int]:
    from pydantic import ValidationError

    from light_llm.models.transformer.cost import model_cost
    from light_llm.compiler.pipeline import lower_spec
    from light_llm.schemas.spec import Spec

    try:
        spec = Spec.model_validate(json.loads(spec_file.read_text()))
    except FileNotFoundError:
        raise RunReadError(f"{spec_file.parent}: no {spec_file.name}; is it a run folder of `lightllm train`?") from None
    except (ValueError, ValidationError) as error:
        raise RunReadError(f"{spec_file}: not a resolved spec ({type(error).__name__})") from None
    cost = model_cost(lower_spec(spec))
    return cost.parameters, cost.forward_flops_per_token


def _exports(folder: Path, measure_decode: bool) -> tuple[ExportSummary, ...]:
    if not folder.is_dir():
        return ()
    found = []
    for manifest in sorted(folder.glob(f"*/{MANIFEST}")):
        try:
            data = json.loads(manifest.read_text())
        except (OSError, ValueError):
            raise RunReadError(f"{manifest}: not a readable export manifest") from None
        target = str(data.get("target", manifest.parent.name))
        parity = data.get("parity") or {}
        speed = (data.get("figures") or {}).get(f"{target}_decode_tokens_per_s")
        if speed is None and measure_decode and target == "onnx":
            speed = _onnx_decode_speed(manifest.parent, data)
        found.append(ExportSummary(target, parity.get("passed"), parity.get("max_abs_error"), speed))
    return tuple(found)


def _onnx_decode_speed(folder: Path, manifest: dict) -> float:
    """Single-token decode steps per second through onnxruntime (batch 1, after a short
    prompt; see exports/decode_speed.py)."""
    from light_llm.exports.decode_speed import decode_tokens_per_second
    from light_llm.runtime.geometry import Geometry
    from light_llm.runtime.session import OnnxSession

    try:
        session = OnnxSession(folder / manifest["model_file"])
        return decode_tokens_per_second(session, Geometry.from_dict(manifest["geometry"]))
    except (KeyError, TypeError):
        raise RunReadError(f"{folder / MANIFEST}: no model_file or geometry to time decoding with") from None
