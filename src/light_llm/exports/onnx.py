"""`export_onnx`: a model folder → a verified ONNX export folder (see exports/folder.py).

The graph follows DESIGN.md's export contract. It is verified with onnxruntime against
eager PyTorch (the parity gate of exports/verify.py) before the folder appears; quantized
graphs are verified too: the random-token checks are reported (top-1 agreement, largest
logit error), and the graph must pass the quantized gate on real text (exports/text_gate.py);
all of it goes to light_llm.json (written by exports/core.py, like every target's).

Memory (docs/export-contract.md): the written graph keeps its weights in external data
while it is quantized and verified, so onnxruntime memory-maps them and the quantizer
reads one tensor at a time; the onnxruntime session runs its side of the checks and is
closed before the eager reference is built with one copy of the weights (verify_in_turn); graphs under 2 GB
then get their weights inline, one tensor at a time. Each phase's time and peak memory
go to light_llm.json ("phases") and to the display the caller passes.
"""

from __future__ import annotations

from pathlib import Path

from light_llm.exports.core import manifest, tolerances
from light_llm.exports.folder import MANIFEST, staged_folder, write_json
from light_llm.exports.phases import PhaseDisplay, Phases
from light_llm.exports.result import ExportError, ExportResult
from light_llm.runtime.geometry import Geometry

MODEL_FILE = "model.onnx"
LOWERED_FAMILIES = ("transformer",)  # written from the IR by exports/onnx_lowering; others are traced


def export_onnx(
    folder,
    out_dir: Path,
    *,
    opset: int | None = None,
    quantize: str | None = None,
    quantize_block_size: int | None = None,
    quantize_method: str | None = None,
    quantize_grid_fit: bool | None = None,
    quantize_embedding: str | None = None,
    quantize_calibration_text: Path | None = None,
    quantize_int8_share: float | None = None,
    quantize_accuracy: str | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    seed: int = 0,
    portable: bool = False,
    min_onnxruntime: str | None = None,
    display: PhaseDisplay | None = None,
) -> ExportResult:
    """`folder`: a ModelFolder (load_model_folder). Options default to the spec's `export`.

    The graph is written from the IR and the weights (exports/onnx_lowering): by default
    the fused form for onnxruntime; `portable` asks for standard ONNX ops only. A layer
    whose attention the fused op cannot express gets standard-ops attention; light_llm.json
    records the lowering of every layer. `min_onnxruntime` (onnx_lowering/plan.py's
    ONNXRUNTIME_VERSIONS, default the oldest): the onnxruntime the fused graph may require
    ("1.32": rotary inside GroupQueryAttention). `quantize_block_size`: weights per scale
    of int8/int4 (16 to 256); `quantize_method`, `quantize_grid_fit` and `quantize_embedding`
    (same or int8): how the codes are chosen (exports/quantize.py); `quantize_calibration_text`: gptq's text file;
    `quantize_int8_share`: of the MatMul weights, the most sensitive kept at 8 bits in an int4 export;
    `quantize_accuracy`: the quantized MatMuls' activations, int8, fp32-head (the LM head's) or fp32.
    `display` shows the phases as they run."""
    from light_llm.compiler.pipeline import lower_spec
    from light_llm.exports.interop_files import write_interop_files
    from light_llm.exports.onnx_graph import check_opset
    from light_llm.exports.onnx_lowering.plan import (
        ONNXRUNTIME_VERSIONS,
        check_min_onnxruntime,
        lowering_notes,
        lowering_plan,
        lowering_summary,
        shares_kv_buffer,
    )
    from light_llm.exports.quantize import QuantizeOptions, calibrated, check_quantization
    from light_llm.exports.transformers_js import write_transformers_js_files
    from light_llm.exports.weights_file import open_weights
    from light_llm.model_folder import WEIGHTS_FILE

    defaults = folder.spec.export
    opset = opset or defaults.opset
    quantize = quantize or defaults.quantize
    quantize = None if quantize == "none" else quantize
    options = None
    if quantize:
        options = QuantizeOptions(
            quantize, quantize_block_size or defaults.quantize_block_size, quantize_method or defaults.quantize_method,
            defaults.quantize_grid_fit if quantize_grid_fit is None else quantize_grid_fit,
            _embedding_bits(quantize_embedding or defaults.quantize_embedding),
            _int8_share(quantize, quantize_int8_share, defaults.quantize_int8_share),
            quantize_accuracy or defaults.quantize_accuracy)
        check_quantization(options.precision, options.block_size, options.method, options.int8_share,
                           options.accuracy)
        calibration_text = quantize_calibration_text or defaults.quantize_calibration_text
        if calibration_text is not None and not calibrated(options.method):
            raise ExportError("a quantize calibration text applies to the gptq methods only")
    elif any(option is not None for option in (quantize_block_size, quantize_method, quantize_grid_fit,
                                               quantize_embedding, quantize_calibration_text, quantize_int8_share,
                                               quantize_accuracy)):
        raise ExportError("a quantize block size, method, grid fit, embedding, calibration text, int8 share or "
                          "accuracy applies to int8 and int4 exports only (quantize is none)")
    atol, rtol = tolerances(folder, atol, rtol)
    check_opset(opset)
    min_onnxruntime = min_onnxruntime or ONNXRUNTIME_VERSIONS[0]
    check_min_onnxruntime(min_onnxruntime)
    phases = Phases(display)
    with phases.phase("lower"):
        open_weights(Path(folder.path) / WEIGHTS_FILE)  # a damaged file is named before anything is written
        ir = lower_spec(folder.spec, target="export")
        geometry = Geometry.from_ir(ir)
        plan = lowering_plan(ir, portable, min_onnxruntime) if ir.family in LOWERED_FAMILIES else None
        if options is not None and calibrated(options.method):  # a missing or empty text: named before any work
            options = _with_calibration(options, folder, geometry, calibration_text)
    with staged_folder(out_dir) as staging:
        path = staging / MODEL_FILE
        summary = _write_graph(folder, ir, geometry, path, opset, options, plan, portable, phases)
        report = _verify(folder, path, ir, geometry, atol, rtol, quantize, seed, phases)
        if plan is not None and not quantize:
            _inline_weights(path, phases)
        with phases.phase("side files and checksums"):
            interop = write_interop_files(staging, folder, ir, geometry,
                                          shares_kv_buffer=plan is not None and shares_kv_buffer(plan))
            write_transformers_js_files(staging, MODEL_FILE)
            written = _manifest(folder, ir, geometry, opset, options, summary, interop, report, staging)
            written["lowering"] = (lowering_summary(plan, portable, min_onnxruntime) if plan
                                   else {"form": "traced", "reason": _traced(ir)})
        written["phases"] = phases.to_list()
        write_json(staging / MANIFEST, written)
        files = sorted(item.name for item in staging.iterdir())
    notes = interop.notes + _position_note(geometry)
    notes += lowering_notes(plan, portable) if plan else [f"lowering: {_traced(ir)}"]
    notes += _kept_fp32(summary) + _accuracy(options)
    return ExportResult("onnx", Path(out_dir), files, report, notes, phases=phases.to_list())


def _write_graph(folder, ir, geometry: Geometry, path: Path, opset: int, options, plan, portable: bool,
                 phases: Phases):
    """Writes the graph (quantized where `options` say); the QuantizeSummary or None."""
    from light_llm import __version__
    from light_llm.exports.onnx_graph import export_graph
    from light_llm.exports.onnx_lowering.graph import write_graph
    from light_llm.exports.quantize import quantize_in_place

    metadata = {
        "light_llm.version": __version__,
        "light_llm.spec": folder.spec.to_json(indent=None),
        "light_llm.geometry": _json(geometry.to_dict()),
    }
    try:
        if plan is None:
            with phases.phase("trace graph"):
                export_graph(folder.build(target="export"), geometry, path, opset, metadata)
        else:
            with phases.phase("write graph", total=ir.num_layers) as advance:
                write_graph(ir, Path(folder.path) / "model.safetensors", path, opset, metadata, plan, portable,
                            external=True, on_layer=advance)
    except Exception as error:  # safetensors, onnx and protobuf raise many types
        raise ExportError(f"ONNX export failed: {_cause(error)}") from error
    if options is None:
        return None
    with phases.phase(f"quantize {options.precision}") as advance:
        summary = quantize_in_place(path, options, on_weight=advance)
    return summary


def _int8_share(quantize: str, named: float | None, spec: float) -> float:
    """The share of weights at 8 bits: as named, else the spec's where the export is int4
    (an int8 export of an int4 spec takes none)."""
    return named if named is not None else spec if quantize == "int4" else 0.0


def _embedding_bits(choice: str) -> int:
    """export.quantize_embedding → QuantizeOptions.embedding_bits (0: the precision's)."""
    bits = {"same": 0, "int8": 8, "int4": 4}
    if choice not in bits:
        raise ExportError(f"quantize embedding {choice!r}: allowed: {', '.join(bits)}")
    return bits[choice]


def _with_calibration(options, folder, geometry: Geometry, text):
    """`options` with gptq's calibration: the windows of its text (quantize_calibration.py),
    run through the fp32 graph when the pass asks for the Gram matrices. Without a named
    text, a model whose text cannot be tokenized is quantized by gptq's scale rule alone
    (light_llm.json says why); a named text that cannot be read is an error."""
    import dataclasses

    from light_llm.errors import LightLLMError
    from light_llm.exports.quantize_calibration import calibration_windows, input_grams

    try:
        windows, source = calibration_windows(folder, geometry, None if text is None else Path(text))
    except LightLLMError as error:
        if text is not None:
            raise
        return dataclasses.replace(options, calibration_source=f"none ({error}): each weight by its scale rule")

    def calibration(inputs: list[str], path: Path) -> dict:
        return input_grams(path, geometry, windows, inputs)

    return dataclasses.replace(options, calibration=calibration,
                               calibration_source=f"{source}: {windows.shape[0]} × {windows.shape[1]} tokens")


def _inline_weights(path: Path, phases: Phases) -> None:
    """The fp32 weights into model.onnx itself where they fit (under 2 GB)."""
    from light_llm.exports.onnx_lowering.tensors import external_data_bytes, inline_external_data, needs_external_data

    if needs_external_data(external_data_bytes(path)):
        return
    with phases.phase("inline weights") as advance:
        inline_external_data(path, on_tensor=advance)


def _cause(error: Exception) -> str:
    """The line of a torch.onnx error that says what went wrong (its exception summary)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    summary = [line for line in lines if line.startswith("<class ")]
    return (summary or lines or [type(error).__name__])[0]


def _verify(folder, path: Path, ir, geometry: Geometry, atol, rtol, quantize, seed, phases: Phases):
    """onnxruntime's side first (then closed), then eager PyTorch's (built from the weights
    file); a quantized graph then meets the real-text gate (exports/text_gate.py) with the
    same eager model, beside a session opened again (small: its weights are int8/int4)."""
    from light_llm.exports.reference import load_reference
    from light_llm.exports.text_gate import GateThresholds, Once, apply_gate
    from light_llm.exports.verify import require_parity, verify_in_turn
    from light_llm.exports.verify_session import verification_session
    from light_llm.runtime.slot_rotation import slot_rotation

    reference = Once(lambda: load_reference(folder))
    report = verify_in_turn(reference, lambda: verification_session(path, quantize is not None), ir,
                            atol=atol, rtol=rtol, quantized=quantize is not None, seed=seed,
                            on_side=lambda side: phases.start(f"verify: {side}"), slot_rotation=slot_rotation(path))
    if quantize:
        phases.start("verify: real text")
        apply_gate(report, folder, lambda: verification_session(path, True), reference, geometry,
                   GateThresholds.of(folder.spec.export, quantize))
    phases.stop()
    return require_parity(report, "ONNX")


def _manifest(folder, ir, geometry, opset, options, summary, interop, report, staging: Path) -> dict:
    import onnx
    import onnxruntime

    graph_files = [MODEL_FILE] + sorted(item.name for item in staging.iterdir()
                                        if item.name.startswith(MODEL_FILE) and item.name != MODEL_FILE)
    return manifest(
        "onnx", folder, geometry, report, staging, graph_files, interop,
        versions={"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__},
        extra={
            "opset": opset,
            **(_quantize_record(options, summary) if options else {"quantize": "none"}),
            "notes": {
                "position_ids": _position_note(geometry)[0] if not geometry.uses_position_ids
                else "input: positions from the attention mask (cumsum - 1), so left padding does not shift them",
                "kv_cache": "past + present per layer; present = past + current (past length may be 0)"
                if geometry.cached else "none: bidirectional attention is exported without a KV cache "
                "(input_ids, attention_mask → logits); generation re-runs the whole sequence",
            },
            "genai_config": "written" if interop.genai_skipped is None else f"left out: {interop.genai_skipped}",
        },
    )


def _quantize_record(options, summary) -> dict:
    """light_llm.json's quantize keys: the options, how many weights took each choice, and
    each weight's choice (and, with an int8 share, each weight's measured sensitivity)."""
    record = {**options.to_dict(), "quantize_choices": summary.counts(), "quantize_weights": summary.weights}
    return record | ({"quantize_sensitivity": summary.sensitivity} if summary.sensitivity else {})


def _kept_fp32(summary) -> list[str]:
    """The weights a quantized export left fp32, and why (an MoE node QMoE cannot take)."""
    choices = summary.weights.items() if summary is not None else ()
    return [f"quantize: {name} kept {choice}" for name, choice in choices if choice.startswith("fp32")]


def _accuracy(options) -> list[str]:
    if options is None:
        return []
    levels = options.to_dict()["quantize_accuracy_levels"]
    return [f"quantize: MatMulNBits activations {options.accuracy} (accuracy_level {levels['lm_head']} "
            f"for the LM head, {levels['others']} for the other weights)"]


def _traced(ir) -> str:
    return (f"traced by torch.onnx into standard ops (the {ir.family!r} family has no "
            f"lowering in exports/onnx_lowering)")


def _position_note(geometry: Geometry) -> list[str]:
    if geometry.uses_position_ids:
        return []
    return ["no position_ids input: this model's graph does not use positions "
            "(ALiBi acts on slot distances; 'none' has no positions)"]


def _json(data: dict) -> str:
    import json

    return json.dumps(data, separators=(",", ":"))
