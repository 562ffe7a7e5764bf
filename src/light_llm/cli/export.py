"""`lightllm export SOURCE --onnx|--torchscript|--pt2|--aoti|--hf|--gguf`: export a model or run
folder, verify it against eager PyTorch, and write an export folder per target."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Annotated, Optional

import typer

ONNX_ONLY = ("opset", "quantize", "quantize_block_size", "quantize_method", "quantize_grid_fit",
             "quantize_embedding", "quantize_calibration_text", "quantize_int8_share", "quantize_accuracy", "portable",
             "min_onnxruntime")
# target → (module, function, fixed options). Imported only when that target is asked for.
TARGETS: dict[str, tuple[str, str, dict]] = {
    "onnx": ("light_llm.exports.onnx", "export_onnx", {}),
    "torchscript": ("light_llm.exports.torchscript", "export_torchscript", {}),
    "pt2": ("light_llm.exports.pt2", "export_pt2", {}),
    "aoti": ("light_llm.exports.pt2", "export_pt2", {"aoti": True}),
    "hf": ("light_llm.exports.hf", "export_hf", {}),
    "gguf": ("light_llm.exports.gguf", "export_gguf", {}),
}


def export(
    source: Annotated[Path, typer.Argument(help="A run or model folder (spec.resolved.json + model.safetensors).", show_default=False)],
    onnx: Annotated[bool, typer.Option("--onnx", help="ONNX (onnxruntime, onnxruntime-genai).")] = False,
    torchscript: Annotated[bool, typer.Option("--torchscript", help="TorchScript.")] = False,
    pt2: Annotated[bool, typer.Option("--pt2", help="torch.export program (.pt2).")] = False,
    aoti: Annotated[bool, typer.Option("--aoti", help="AOTInductor-compiled .pt2 package.")] = False,
    hf: Annotated[bool, typer.Option("--hf", help="Hugging Face transformers folder.")] = False,
    gguf: Annotated[bool, typer.Option("--gguf", help="GGUF file for llama.cpp, Ollama and LM Studio.")] = False,
    out: Annotated[Optional[Path], typer.Option(help="Export folder (default: SOURCE/exports/TARGET); with several targets, one subfolder each.")] = None,
    opset: Annotated[Optional[int], typer.Option(help="ONNX opset (default: the spec's export.opset).")] = None,
    quantize: Annotated[Optional[str], typer.Option(help="ONNX weight quantization: int8 or int4 (default: the spec's export.quantize).")] = None,
    quantize_block_size: Annotated[Optional[int], typer.Option("--quantize-block-size", metavar="N", help="Weights per scale of int8/int4: 16, 32, 64, 128 or 256 (default: the spec's export.quantize_block_size, 32); larger blocks decode faster and are less accurate (the parity summary reports by how much).", show_default=False)] = None,
    quantize_method: Annotated[Optional[str], typer.Option("--quantize-method", metavar="METHOD", help="How int8/int4 codes are chosen: symmetric, asymmetric, gptq or gptq-symmetric (default: the spec's export.quantize_method).", show_default=False)] = None,
    quantize_grid_fit: Annotated[Optional[bool], typer.Option("--quantize-grid-fit/--no-quantize-grid-fit", help="Keep the exact codes of weights on a GGUF grid (Q8_0/Q4_0/Q4_1, block size 32; default: the spec's export.quantize_grid_fit).", show_default=False)] = None,
    quantize_embedding: Annotated[Optional[str], typer.Option("--quantize-embedding", metavar="same|int8|int4", help="The embedding's and LM head's precision in an int4 export (default: the spec's export.quantize_embedding).", show_default=False)] = None,
    quantize_calibration_text: Annotated[Optional[Path], typer.Option("--quantize-calibration-text", metavar="FILE", help="gptq's calibration text (gptq, gptq-symmetric; default: the spec's export.quantize_calibration_text, else the run's training split, else a built-in text).", show_default=False)] = None,
    quantize_int8_share: Annotated[Optional[float], typer.Option("--quantize-int8-share", metavar="SHARE", help="In an int4 export, the share (0 to 1) of the MatMul weights' parameters kept at int8, the most sensitive to 4-bit rounding first (default: the spec's export.quantize_int8_share, 0).", show_default=False)] = None,
    quantize_accuracy: Annotated[Optional[str], typer.Option("--quantize-accuracy", metavar="int8|fp32-head|fp32", help="The int8/int4 MatMuls' activations: int8 (fastest), fp32 (exact on an imported GGUF's codes, slower) or fp32-head (the LM head's alone; default: the spec's export.quantize_accuracy).", show_default=False)] = None,
    atol: Annotated[Optional[float], typer.Option(help="Largest absolute logit error accepted (default: the spec's export.atol).")] = None,
    rtol: Annotated[Optional[float], typer.Option(help="Relative logit tolerance (default: the spec's export.rtol).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random verification prompts.")] = 0,
    portable: Annotated[bool, typer.Option("--portable", help="ONNX with standard ops only (onnxruntime-web wasm, other ONNX runtimes) instead of the fused onnxruntime graph.")] = False,
    min_onnxruntime: Annotated[Optional[str], typer.Option("--min-onnxruntime", metavar="VERSION", help="The oldest onnxruntime the fused ONNX graph must load in: 1.30 (default; onnxruntime-node's latest release) or 1.32 (rotary inside GroupQueryAttention: one node per layer, faster).", show_default=False)] = None,
    hf_architecture: Annotated[Optional[str], typer.Option("--hf-architecture", metavar="MODEL_TYPE", help="--hf as this Hugging Face model_type (llama, phi3, ...; default: the imported one where it fits, else the first that fits).", show_default=False)] = None,
    gguf_type: Annotated[Optional[str], typer.Option("--gguf-type", metavar="TYPE", help="--gguf weight type: f32 (default; held to the fp32 tolerance), f16, bf16, q8_0, q5_1, q5_0, q4_1 or q4_0 (held to the quantized gate).", show_default=False)] = None,
) -> None:
    """Export, verify against eager PyTorch (failure: non-zero exit, no folder left), and
    print the parity summary."""
    from light_llm.model_folder import load_model_folder

    chosen = [name for name, flag in zip(TARGETS, (onnx, torchscript, pt2, aoti, hf, gguf)) if flag]
    if not chosen:
        _fail("choose at least one target: --onnx, --torchscript, --pt2, --aoti, --hf or --gguf")
    if portable and not onnx:
        _fail("--portable applies to --onnx only (the standard-ops ONNX graph)")
    if min_onnxruntime is not None and not onnx:
        _fail("--min-onnxruntime applies to --onnx only")
    for flag, value in (("--quantize-block-size", quantize_block_size), ("--quantize-method", quantize_method),
                        ("--quantize-grid-fit", quantize_grid_fit),
                        ("--quantize-embedding", quantize_embedding),
                        ("--quantize-calibration-text", quantize_calibration_text),
                        ("--quantize-int8-share", quantize_int8_share),
                        ("--quantize-accuracy", quantize_accuracy)):
        if value is not None and not onnx:
            _fail(f"{flag} applies to --onnx only")
    if hf_architecture is not None and not hf:
        _fail("--hf-architecture applies to --hf only (the Hugging Face folder's model_type)")
    if gguf_type is not None and not gguf:
        _fail("--gguf-type applies to --gguf only")
    if gguf_type is not None:
        from light_llm.exports.gguf import check_gguf_type

        check_gguf_type(gguf_type)  # before any other target is written
    folder = load_model_folder(source)  # errors: the one path of cli/errors.py
    for target in chosen:
        result = _export_one(target, folder, _out_dir(source, out, target, len(chosen)),
                             dict(opset=opset, quantize=quantize, quantize_block_size=quantize_block_size,
                                  quantize_method=quantize_method, quantize_grid_fit=quantize_grid_fit,
                                  quantize_embedding=quantize_embedding,
                                  quantize_calibration_text=quantize_calibration_text,
                                  quantize_int8_share=quantize_int8_share, quantize_accuracy=quantize_accuracy,
                                  atol=atol, rtol=rtol, seed=seed,
                                  portable=portable or None, min_onnxruntime=min_onnxruntime,
                                  architecture=hf_architecture, gguf_type=gguf_type))
        typer.echo(f"{target}: wrote {result.out_dir} ({', '.join(result.files)})")
        if result.phases:
            typer.echo("  phases: " + ", ".join(f"{p['name']} {p['seconds']:.1f} s" for p in result.phases)
                       + f"; peak memory {max(p['peak_memory_mb'] for p in result.phases) * 2**20 / 1e9:.2f} GB")
        if result.parity is not None:
            typer.echo(f"  {result.parity.summary()}")
        for note in result.notes:
            typer.echo(f"  note: {note}")


def _export_one(target: str, folder, out_dir: Path, options: dict):
    module_name, function, fixed = TARGETS[target]
    try:
        exporter = getattr(import_module(module_name), function)
    except (ImportError, AttributeError):
        _fail(f"--{target}: this export target is not available in this version of light_llm")
    if target != "hf":
        options = {k: v for k, v in options.items() if k != "architecture"}
    if target != "gguf":
        options = {k: v for k, v in options.items() if k != "gguf_type"}
    else:
        options["display"] = _phase_display(target)
    if target != "onnx":
        options = {k: v for k, v in options.items()
                   if k not in ONNX_ONLY}
    elif options["quantize"] not in (None, "none", "int8", "int4"):
        _fail(f"--quantize {options['quantize']}: allowed: int8, int4")
    else:
        options["display"] = _phase_display(target)
    return exporter(folder, out_dir, **{k: v for k, v in options.items() if v is not None}, **fixed)


def _phase_display(target: str):
    """Each phase's progress and time on stderr (stdout keeps the export's summary)."""
    from rich.console import Console

    from light_llm.exports.phase_display import RichPhaseDisplay

    return RichPhaseDisplay(Console(stderr=True), target)


def _out_dir(source: Path, out: Path | None, target: str, count: int) -> Path:
    if out is None:
        return source / "exports" / target
    return out / target if count > 1 else out


def _fail(message: str) -> None:
    from light_llm.cli.errors import fail

    fail(message)
