"""int4 methods on a real pretrained model: quality, size and decode speed of each
quantize method × block size against onnxruntime-genai's builder on the same weights.

SmolLM2-135M-Instruct's fp32 folder (tests/real_model/smollm2.py: the GGUF's Q4_1 / Q8_0
weights dequantized, so they lie on Q4_1's grid of 32), or with --model off-grid the same
model folded and rotated off that grid (benchmarks/off_grid.py; give it a --work folder of
its own), imported and exported to fp32 ONNX once (`export_onnx(min_onnxruntime="1.32")`,
verified); that graph is then quantized by the export's own pass
(`exports.quantize.quantize`, timed: the quantize phase of `lightllm export`, calibration
included) for every row of CONFIGS, without the gate's re-verification
(the gate's figures are the export's; here every graph is scored on the same text). The
builder's int4 at blocks 32 and 128 (`-p int4 --extra_options block_size=B`) beside them.

Per graph: perplexity on --windows × --window-length tokens of light_llm.evaluate's
built-in English text (each window one prefill from an empty cache) and the share of
those positions whose top-1 token is transformers' fp32 one; greedy agreement with the fp32
graph (64 greedy tokens after each of 8 prompts of 32 tokens of the text: the share before
each row's first difference); file size; quantize seconds (light_llm only); decode tok/s
of the plain onnxruntime loop and of og.Generator (benchmarks/inference.py; batch 1,
--prompt tokens of the text then --new tokens, median of --runs runs after a warm-up, the
graphs taking turns within each run) and their ratios to the builder's block-32 int4 in the
same run and driver. One run, the CPU named.

    .venv/bin/python benchmarks/quantize.py [--work DIR] [--runs 3] [--threads 2]
        [--prompt 128] [--new 64] [--windows 4] [--window-length 512] [--configs 'NAME;…']
        [--model smollm2|off-grid]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from light_llm.evaluate.scores import score

from inference import DRIVERS, Graph, build_with_builder, cpu_name, measure, set_genai_threads
from off_grid import off_grid_folder
from real_model import consecutive, english_ids, graph_logits, model_shape, never_stop, real_model_folder, versions

# name → (block size, method, grid fit, embedding bits: 0 the int4 of the rest, int8 share)
CONFIGS: dict[str, tuple[int, str, bool, int, float]] = {
    "grid fit, block 32": (32, "symmetric", True, 0, 0.0),
    "grid fit, block 32, embedding int4": (32, "symmetric", True, 4, 0.0),
    "grid fit, block 32, embedding int4 asymmetric": (32, "asymmetric", True, 4, 0.0),
    **{f"{method}, block {block}": (block, method, False, 0, 0.0)
       for block in (32, 64, 128) for method in ("symmetric", "asymmetric", "gptq", "gptq-symmetric")},
    **{f"gptq, block {block}, embedding int8": (block, "gptq", False, 8, 0.0) for block in (32, 128)},
    **{f"{method}, block {block}, int8 share 0.25": (block, method, False, 0, 0.25)
       for block in (32, 128) for method in ("asymmetric", "gptq")},
}
BUILDER_BLOCKS = (32, 128)
AGREEMENT_PROMPTS, AGREEMENT_PROMPT_LENGTH, AGREEMENT_NEW = 8, 32, 64
MODELS = ("smollm2", "off-grid")
BASELINE = "builder int4, block 32"


def folder_name(name: str) -> str:
    return name.replace(", ", "-").replace(" ", "_")


def fp32_export(work: Path, hf: Path) -> Path:
    from light_llm.exports.onnx import export_onnx
    from light_llm.import_hf import import_hf
    from light_llm.model_folder import load_model_folder

    model, fp32 = work / "model", work / "light_llm-fp32"
    if not model.exists():
        print("importing …", flush=True)
        import_hf(hf, model)
    if not fp32.exists():
        print("exporting fp32 …", flush=True)
        export_onnx(load_model_folder(model), fp32, min_onnxruntime="1.32")
    return fp32


def quantized(work: Path, fp32: Path, name: str) -> tuple[Path, float]:
    """(folder, quantize seconds) of `name`: fp32's side files and its graph quantized."""
    import dataclasses
    import json

    from light_llm.exports.folder import staged_folder
    from light_llm.exports.quantize import QuantizeOptions, calibrated, quantize
    from light_llm.exports.quantize_calibration import calibration_windows, input_grams
    from light_llm.model_folder import load_model_folder
    from light_llm.runtime.manifest import read_manifest

    out = work / f"light_llm-{folder_name(name)}"
    timing = out / "quantize_seconds.json"
    if out.exists():
        return out, json.loads(timing.read_text())["seconds"]
    print(f"quantizing {name} …", flush=True)
    block, method, grid_fit, embedding_bits, int8_share = CONFIGS[name]
    options = QuantizeOptions("int4", block, method, grid_fit, embedding_bits, int8_share)
    with staged_folder(out) as staging:
        for item in fp32.iterdir():
            if item.is_file() and not item.name.startswith("model.onnx"):
                shutil.copy(item, staging / item.name)
        start = time.perf_counter()
        if calibrated(method):
            geometry = read_manifest(fp32).graph_geometry
            windows, _ = calibration_windows(load_model_folder(work / "model"), geometry, None)
            options = dataclasses.replace(
                options, calibration=lambda inputs, path: input_grams(path, geometry, windows, inputs))
        quantize(fp32 / "model.onnx", staging / "model.onnx", options)
        (staging / timing.name).write_text(json.dumps({"seconds": time.perf_counter() - start}))
    return out, json.loads(timing.read_text())["seconds"]


def prepare(work: Path, hf: Path, names: list[str], threads: int) -> tuple[list[Graph], dict[str, float]]:
    """The graphs under `work` (each made unless there) and light_llm's quantize seconds."""
    from light_llm.exports.folder import staged_folder

    fp32 = fp32_export(work, hf)
    graphs, seconds = [], {}
    for name in names:
        folder, seconds[f"light_llm {name}"] = quantized(work, fp32, name)
        graphs.append(Graph(f"light_llm {name}", folder, "int4", builder=False))
    for block in BUILDER_BLOCKS:
        out = work / f"builder-int4-block{block}"
        if not out.exists():
            print(f"building the builder's int4, block {block} …", flush=True)
            with staged_folder(out) as staging:
                build_with_builder(hf, staging, "int4", work / "builder-cache", extra=f"block_size={block}")
        graphs.append(Graph(f"builder int4, block {block}", out, "int4", builder=True))
    for graph in graphs:
        set_genai_threads(graph.folder, threads)
        never_stop(graph.folder)
    return graphs, seconds


def size_mb(folder: Path) -> float:
    return sum(item.stat().st_size for item in folder.iterdir() if item.name.startswith("model.onnx")) / 1e6


def main() -> None:
    from light_llm.evaluate.backends import transformers_logits

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="folder of the model and graphs; reused when present")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt", type=int, default=128)
    parser.add_argument("--new", type=int, default=64)
    parser.add_argument("--windows", type=int, default=4)
    parser.add_argument("--window-length", type=int, default=512)
    parser.add_argument("--configs", default=";".join(CONFIGS), help=f"separated by ';', of: {'; '.join(CONFIGS)}")
    parser.add_argument("--model", choices=MODELS, default=MODELS[0],
                        help="off-grid: the same model folded and rotated off its GGUF grid (benchmarks/off_grid.py)")
    args = parser.parse_args()
    names = [name.strip() for name in args.configs.split(";") if name.strip()]
    if unknown := [name for name in names if name not in CONFIGS]:
        sys.exit(f"--configs: unknown {'; '.join(unknown)}")

    import torch

    torch.set_num_threads(args.threads)
    work = args.work or Path(tempfile.mkdtemp(prefix="lightllm-quantize-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"CPU: {cpu_name()}, {args.threads} threads")
    print(f"versions: {versions()}")
    hf = real_model_folder()
    original = hf
    if args.model == "off-grid":
        hf = off_grid_folder(original, work / "off-grid-hf")
    graphs, seconds = prepare(work, hf, names, args.threads)
    shape = model_shape(hf, args.prompt, args.new)
    ids = english_ids(hf, shape["vocab"])
    windows = consecutive(ids, args.windows, args.window_length)
    reference = score(transformers_logits(hf), windows)
    if hf != original:
        print(f"fp32 perplexity (transformers): off-grid {reference.perplexity:.4f}, "
              f"original {score(transformers_logits(original), windows).perplexity:.4f}")
    scores = {graph.name: score(graph_logits(graph, args.threads, shape), windows) for graph in graphs}

    loops = {driver: {graph.name: DRIVERS[driver](graph, args.threads, shape) for graph in graphs}
             for driver in speed_drivers()}
    plain = DRIVERS["plain onnxruntime loop"]
    fp32_loop = plain(Graph("fp32", work / "light_llm-fp32", "fp32", builder=False), args.threads, shape)
    agreement = greedy_agreement(loops["plain onnxruntime loop"], fp32_loop, ids)
    prompts = consecutive(ids, 1, args.prompt)
    rates = {driver: {name: row[1] for name, row in measure(generators, prompts, args.new, args.runs).items()}
             for driver, generators in loops.items()}

    model = "SmolLM2-135M-Instruct" + (" off its grid" if hf != original else "")
    print(f"\n{model} int4; perplexity on {reference.tokens} tokens ({args.windows} × "
          f"{args.window_length}), fp32 (transformers) {reference.perplexity:.3f}; top-1 = fp32's on those "
          f"positions; greedy = fp32's: of {AGREEMENT_PROMPTS} × {AGREEMENT_NEW} greedy tokens after "
          f"{AGREEMENT_PROMPTS} prompts of {AGREEMENT_PROMPT_LENGTH}, the share before each row's first difference "
          f"from the fp32 graph's; decode: batch 1, {args.prompt} + {args.new} tokens, median of {args.runs} runs, "
          f"vs {BASELINE} in this run, per driver")
    drivers = list(rates)
    print("| graph | perplexity | vs fp32 | top-1 = fp32 | greedy = fp32 | MB | quantize s | "
          + " | ".join(f"{driver} tok/s | vs builder 32" for driver in drivers) + " |")
    print("|---|---:|---:|---:|---:|---:|---:|" + "---:|---:|" * len(drivers))
    for graph in graphs:
        found = scores[graph.name]
        quantized = f"{seconds[graph.name]:.1f}" if graph.name in seconds else "—"
        speeds = []
        for driver in drivers:
            rate, baseline = rates[driver].get(graph.name), rates[driver].get(BASELINE)
            speeds += [f"{rate:.1f}" if rate else "failed", f"{rate / baseline:.2f}×" if rate and baseline else "—"]
        print(f"| {graph.name} | {found.perplexity:.3f} | {found.perplexity / reference.perplexity - 1:+.2%} | "
              f"{found.agreement(reference):.1%} | {agreement[graph.name]:.1%} | {size_mb(graph.folder):.1f} | "
              f"{quantized} | " + " | ".join(speeds) + " |")


def speed_drivers() -> list[str]:
    """The plain onnxruntime loop, and og.Generator where onnxruntime-genai is installed."""
    import importlib.util

    return ["plain onnxruntime loop"] + (["og.Generator"] if importlib.util.find_spec("onnxruntime_genai") else [])


def greedy_agreement(loops: dict, fp32_loop, ids) -> dict[str, float]:
    """Per graph of `loops` (name → its plain onnxruntime loop): of AGREEMENT_NEW greedy tokens
    after each of AGREEMENT_PROMPTS prompts (the text's first tokens, AGREEMENT_PROMPT_LENGTH
    each, as one batch), the share before its row first differs from `fp32_loop`'s."""
    import numpy as np

    prompts = consecutive(ids, AGREEMENT_PROMPTS, AGREEMENT_PROMPT_LENGTH)
    reference = fp32_loop(prompts, AGREEMENT_NEW)
    return {name: float(np.cumprod(greedy(prompts, AGREEMENT_NEW) == reference, axis=1).mean())
            for name, greedy in loops.items()}


if __name__ == "__main__":
    main()
