"""Decode speed of light_llm's ONNX exports against onnxruntime-genai's model builder on
the same weights: a random-weight Llama (d_model 512, 8 layers, 8 heads / 2 KV heads,
FFN 1376, vocab 8192, tied embeddings), 128-token prompt, 128 new tokens, greedy.

The weights are written once as a light_llm model folder; `export_onnx` makes light_llm's
graphs (fp32 and int4: the default fused form, which loads in onnxruntime 1.30; "ort-1.32",
the fused form with rotary inside GroupQueryAttention, `min_onnxruntime="1.32"`; and the
portable form, where the export has them), `export_hf` the
Hugging Face folder that `python -m onnxruntime_genai.models.builder -p fp32|int4 -e cpu`
builds from. Every graph is driven by
  - one plain onnxruntime loop (session.run: past in, present out, numpy between steps),
  - light_llm.runtime (generate_ids: IO binding, the cache stays in onnxruntime; a graph
    that writes its present into its past's buffer, GroupQueryAttention in every layer,
    decodes into preallocated buffers in place: runtime/kv_buffers.py),
  - light_llm.runtime (IO binding only): the same without the in-place buffers: the
    baseline of the in-place row,
  - og.Generator (onnxruntime-genai's own driver, with the folder's genai_config.json),
at batch 1, 4 and 8. prefill = time to the first token (median of --runs runs after a
warm-up); decode tok/s = rows / the median decode step of all --runs runs (each driver
times its own steps, so a moment when the shared machine is slow moves the figure little). Ratios are against the
builder's graph of the same precision, with the same driver, measured in this run (the
graphs of one driver take turns within each run). The
memory-bandwidth bound is the measured read bandwidth (a numpy sum over 512 MB split over
--threads threads) / the weight bytes a decode step reads (the graph's file size: every
weight is read once per token, the tied embedding as the LM head).

    .venv/bin/python benchmarks/inference.py [--runs 3] [--threads 2] [--batches 1,4,8] [--quick]
        [--drivers "light_llm.runtime,light_llm.runtime (IO binding only)"] [--graphs "light_llm fp32,light_llm int4"]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

SHAPE = dict(d_model=512, layers=8, heads=8, kv_heads=2, ffn=1376, vocab=8192, prompt=128, new=128)
QUICK = dict(d_model=128, layers=2, heads=4, kv_heads=2, ffn=352, vocab=512, prompt=16, new=16)
Generate = Callable[[np.ndarray, int], np.ndarray]  # prompts [B, S], new tokens → tokens [B, new]


@dataclass
class Graph:
    name: str
    folder: Path  # model.onnx (+ data), genai_config.json
    precision: str  # fp32 or int4
    builder: bool


def spec(shape: dict) -> dict:
    return {"spec_version": 1, "model": {
        "vocab_size": shape["vocab"], "d_model": shape["d_model"], "num_layers": shape["layers"],
        "max_seq_len": 2 * (shape["prompt"] + shape["new"]), "tie_embeddings": True,
        "attention": {"variant": "gqa", "num_heads": shape["heads"], "num_kv_heads": shape["kv_heads"]},
        "positional": {"encoding": "rope"}, "norm": {"type": "rmsnorm", "placement": "pre"},
        "ffn": {"variant": "swiglu", "expansion_factor": shape["ffn"] / shape["d_model"]},
    }}


def cpu_name() -> str:
    import torch

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return f"{model}, {os.cpu_count()} cores, torch CPU capability {torch.backends.cpu.get_cpu_capability()}"


def read_bandwidth(threads: int) -> float:
    """Bytes per second of a numpy sum over 512 MB, split over 1 and over `threads` threads
    (the best of 5 runs each: the fastest read the machine showed)."""
    data = np.ones(128 * 1024**2, dtype=np.float32)
    best = float("inf")
    for count in sorted({1, threads}):
        parts = np.array_split(data, count)
        with ThreadPoolExecutor(count) as pool:
            for _ in range(5):
                start = time.perf_counter()
                list(pool.map(np.sum, parts))
                best = min(best, time.perf_counter() - start)
    return data.nbytes / best


# building the graphs

def make_graphs(root: Path, shape: dict, threads: int) -> list[Graph]:
    from light_llm.compiler.build import build
    from light_llm.compiler.pipeline import lower_spec
    from light_llm.compiler.resolve import resolve_spec
    from light_llm.exports.hf import export_hf
    from light_llm.exports.onnx import export_onnx
    from light_llm.model_folder import load_model_folder, save_model_folder
    from light_llm.schemas.spec import Spec

    resolved = resolve_spec(Spec.model_validate(spec(shape)))
    save_model_folder(root / "model", resolved, build(lower_spec(resolved), seed=0))
    folder = load_model_folder(root / "model")
    graphs = []
    forms = {"": {}}
    parameters = inspect.signature(export_onnx).parameters
    if "min_onnxruntime" in parameters:  # rotary inside GroupQueryAttention, where the export has it
        forms["ort-1.32 "] = {"min_onnxruntime": "1.32"}
    if "portable" in parameters:  # the standard-ops form, where it exists
        forms["portable "] = {"portable": True}
    for form, options in forms.items():
        for precision in ("fp32", "int4"):
            out = root / f"light_llm-{form.strip() or 'default'}-{precision}"
            result = export_onnx(folder, out, quantize=None if precision == "fp32" else "int4", **options)
            print(f"light_llm {form}{precision}: {result.parity.summary()}")
            graphs.append(Graph(f"light_llm {form}{precision}", out, precision, builder=False))
    export_hf(folder, root / "hf")
    for precision in ("fp32", "int4"):
        out = root / f"builder-{precision}"
        build_with_builder(root / "hf", out, precision, root / "cache")
        graphs.append(Graph(f"builder {precision}", out, precision, builder=True))
    for graph in graphs:
        set_genai_threads(graph.folder, threads)
    return graphs


def build_with_builder(hf: Path, out: Path, precision: str, cache: Path, extra: str = "") -> None:
    """onnxruntime-genai's model builder (`-p precision -e cpu`, offline) on the Hugging Face
    folder `hf`: `out` holds model.onnx and genai_config.json; exits with the builder's error.
    `extra`: the builder's --extra_options (e.g. "block_size=128")."""
    command = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(hf),
               "-o", str(out), "-p", precision, "-e", "cpu", "-c", str(cache)]
    command += ["--extra_options", *extra.split()] if extra else []
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"the builder failed ({' '.join(command)}):\n{done.stderr[-3000:]}")


def set_genai_threads(folder: Path, threads: int) -> None:
    path = folder / "genai_config.json"
    config = json.loads(path.read_text())
    options = config["model"]["decoder"].setdefault("session_options", {})
    options["intra_op_num_threads"], options["inter_op_num_threads"] = threads, 1
    path.write_text(json.dumps(config, indent=2))


def graph_facts(graph: Graph) -> tuple[int, int, bool]:
    """(node count, bytes of model.onnx and its data, past_present_share_buffer)."""
    import onnx

    nodes = len(onnx.load(str(graph.folder / "model.onnx"), load_external_data=False).graph.node)
    size = sum(item.stat().st_size for item in graph.folder.iterdir() if item.name.startswith("model.onnx"))
    config = json.loads((graph.folder / "genai_config.json").read_text())
    return nodes, size, bool(config["search"].get("past_present_share_buffer"))


# the drivers

def session(graph: Graph, threads: int, profile_prefix: str | None = None):
    """`profile_prefix`: onnxruntime's profiler on, its JSON written there (end_profiling)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.log_severity_level = 3
    if profile_prefix:
        options.enable_profiling, options.profile_file_prefix = True, profile_prefix
    return ort.InferenceSession(str(graph.folder / "model.onnx"), options, providers=["CPUExecutionProvider"])


def plain_loop(graph: Graph, threads: int, shape: dict, profile_prefix: str | None = None) -> Generate:
    """session.run with numpy past in, present out; positions only where the graph takes them.
    One run per new token, the first the prefill."""
    sess = session(graph, threads, profile_prefix)
    inputs = {item.name for item in sess.get_inputs()}
    outputs = [item.name for item in sess.get_outputs()]
    head_dim = shape["d_model"] // shape["heads"]

    steps: list[float] = []

    def generate(prompts: np.ndarray, new: int) -> np.ndarray:
        batch, length = prompts.shape
        past = {name: np.zeros((batch, shape["kv_heads"], 0, head_dim), np.float32)
                for name in inputs if name.startswith("past_key_values.")}
        ids, tokens = prompts.astype(np.int64), []
        for step in range(new):
            start = time.perf_counter()
            total = length + step
            feeds = {"input_ids": ids, "attention_mask": np.ones((batch, total), np.int64), **past}
            if "position_ids" in inputs:
                feeds["position_ids"] = np.arange(total - ids.shape[1], total, dtype=np.int64)[None].repeat(batch, 0)
            results = dict(zip(outputs, sess.run(None, feeds)))
            ids = results["logits"][:, -1].argmax(-1)[:, None].astype(np.int64)
            tokens.append(ids[:, 0])
            past = {name: results[name.replace("past_key_values.", "present.")] for name in past}
            if step:
                steps.append(time.perf_counter() - start)
        return np.stack(tokens, axis=1)

    generate.steps, generate.session = steps, sess
    return generate


def runtime_loop(graph: Graph, threads: int, shape: dict, in_place: bool = True) -> Generate:
    """light_llm.runtime.generate_ids on an OnnxSession (IO binding), any graph of the contract;
    in place where the graph writes its present into its past's buffer (light_llm.json's
    lowering, or genai_config's past_present_share_buffer for the builder's graphs)."""
    from light_llm.runtime.generator import generate_ids
    from light_llm.runtime.session import OnnxSession

    run = OnnxSession(graph.folder / "model.onnx", threads=threads)
    geometry = shape_geometry(shape, run.input_names)
    shares = in_place and _shares_kv_buffer(graph)
    timed = _TimedSteps(run)

    def generate(prompts: np.ndarray, new: int) -> np.ndarray:
        prefill = len(timed.steps)
        tokens = generate_ids(timed, geometry, prompts.tolist(), max_new_tokens=new,
                              **({"shares_kv_buffer": True} if shares else {}))
        del timed.steps[prefill]  # the first call is the prefill
        return np.array(tokens)

    generate.steps = timed.steps
    return generate


def shape_geometry(shape: dict, input_names: list[str]):
    """The runtime's Geometry of any graph of the contract (a builder's too) with this shape,
    room for the prompt and the new tokens twice over."""
    from light_llm.runtime.geometry import Geometry

    return Geometry(shape["layers"], shape["kv_heads"], shape["d_model"] // shape["heads"], shape["vocab"],
                    2 * (shape["prompt"] + shape["new"]), cached=True, uses_position_ids="position_ids" in input_names)


class _TimedSteps:
    """An OnnxSession whose bound() session records the seconds of every call."""

    def __init__(self, run):
        self.run, self.steps = run, []

    def bound(self):
        bound = self.run.bound()

        def call(feeds: dict, into: dict | None = None) -> dict:
            start = time.perf_counter()
            outputs = bound(feeds, into=into)
            self.steps.append(time.perf_counter() - start)
            return outputs

        return call


def runtime_io_binding_loop(graph: Graph, threads: int, shape: dict) -> Generate:
    return runtime_loop(graph, threads, shape, in_place=False)


def _shares_kv_buffer(graph: Graph) -> bool:
    manifest = graph.folder / "light_llm.json"
    if not manifest.is_file():
        return graph_facts(graph)[2]
    try:
        from light_llm.runtime.kv_buffers import shares_kv_buffer
    except ImportError:  # a tree from before in-place buffers
        return False
    return shares_kv_buffer(json.loads(manifest.read_text()).get("lowering"))


def genai_loop(graph: Graph, threads: int, shape: dict) -> Generate:
    import onnxruntime_genai as og

    model = og.Model(str(graph.folder))

    steps: list[float] = []

    def generate(prompts: np.ndarray, new: int) -> np.ndarray:
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=prompts.shape[1] + new, do_sample=False, batch_size=len(prompts))
        generator = og.Generator(model, params)
        generator.append_tokens(prompts.astype(np.int32))
        tokens = []
        while not generator.is_done():
            start = time.perf_counter()
            generator.generate_next_token()
            tokens.append(np.array(generator.get_next_tokens()))
            if len(tokens) > 1:  # the first picks from the prompt's logits; later ones run a decode step
                steps.append(time.perf_counter() - start)
        return np.stack(tokens, axis=1)[:, :new]

    generate.steps = steps
    return generate


DRIVERS = {"plain onnxruntime loop": plain_loop, "light_llm.runtime": runtime_loop,
           "light_llm.runtime (IO binding only)": runtime_io_binding_loop, "og.Generator": genai_loop}


def measure(generators: dict[str, Generate], prompts: np.ndarray, new: int,
            runs: int) -> dict[str, tuple[float, float, np.ndarray]]:
    """Per graph: (prefill ms, decode tok/s over all rows, tokens), medians of `runs` after a
    warm-up. The graphs take turns within each run, so a machine that slows down or speeds
    up during the benchmark moves every graph alike, in an order rotated by one each run, so
    no graph always runs first or after the same one; a graph whose warm-up fails is
    reported and left out."""
    tokens, first, total = {}, {}, {}
    for name, generate in list(generators.items()):
        try:
            tokens[name] = generate(prompts, new)
        except Exception as error:  # a driver that cannot run a graph is reported, not fatal
            print(f"{name}: failed: {str(error).splitlines()[0][:200]}")
            del generators[name]
        else:
            getattr(generate, "steps", []).clear()  # the warm-up's steps do not count
    names = list(generators)
    for run in range(runs):
        for name in names[run % len(names):] + names[:run % len(names)]:
            generate = generators[name]
            start = time.perf_counter()
            generate(prompts, 1)
            first.setdefault(name, []).append(time.perf_counter() - start)
            start = time.perf_counter()
            generate(prompts, new)
            total.setdefault(name, []).append(time.perf_counter() - start)
    results = {}
    for name, generate in generators.items():
        prefill = statistics.median(first[name])
        steps = getattr(generate, "steps", None)
        if steps:  # the median decode step of every run: one slow moment moves it little
            rate = len(prompts) / statistics.median(steps)
        else:
            rate = len(prompts) * (new - 1) / (statistics.median(total[name]) - prefill)
        results[name] = (prefill * 1e3, rate, tokens[name])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", default="1,4,8", help="comma-separated batch sizes")
    parser.add_argument("--quick", action="store_true", help="a 2-layer d_model 128 model, 16 + 16 tokens (smoke test)")
    parser.add_argument("--drivers", default=",".join(DRIVERS), help=f"comma-separated, of: {', '.join(DRIVERS)} "
                        "(light_llm.runtime in place vs IO binding only: "
                        "'light_llm.runtime,light_llm.runtime (IO binding only)')")
    parser.add_argument("--graphs", default="", help="comma-separated graph names to drive (default: all), "
                        "e.g. 'light_llm fp32,builder fp32'")
    args = parser.parse_args()
    drivers = _chosen(args.drivers, DRIVERS)
    import torch

    torch.set_num_threads(args.threads)
    shape = QUICK if args.quick else SHAPE
    batches = [int(item) for item in args.batches.split(",")]
    root = Path(tempfile.mkdtemp(prefix="lightllm-bench-"))
    print(f"CPU: {cpu_name()}")
    print(f"model: random-weight Llama d_model {shape['d_model']}, {shape['layers']} layers, "
          f"{shape['heads']}/{shape['kv_heads']} heads, FFN {shape['ffn']}, vocab {shape['vocab']}, tied; "
          f"prompt {shape['prompt']}, {shape['new']} new tokens, greedy, {args.threads} threads, "
          f"median of {args.runs} runs; folders in {root}")
    graphs = make_graphs(root, shape, args.threads)
    bandwidth = read_bandwidth(args.threads)
    print(f"\nread bandwidth: {bandwidth / 1e9:.1f} GB/s ({args.threads} threads)\n")
    print("| graph | nodes | file MB | genai share buffer | bound tok/s (bandwidth / bytes) |")
    print("|---|---:|---:|---|---:|")
    facts = {}
    for graph in graphs:
        nodes, size, shares = facts[graph.name] = graph_facts(graph)
        print(f"| {graph.name} | {nodes} | {size / 1e6:.1f} | {shares} | {bandwidth / size:.0f} |")

    rng = np.random.default_rng(0)
    rows: dict[tuple[str, str, int], tuple[float, float, np.ndarray]] = {}
    for batch in batches:
        prompts = rng.integers(0, shape["vocab"], (batch, shape["prompt"]))
        for driver, make in drivers.items():
            generators = {}
            for graph in graphs:
                if args.graphs and graph.name not in args.graphs.split(","):
                    continue
                try:
                    generators[graph.name] = make(graph, args.threads, shape)
                except Exception as error:  # a driver that cannot run a graph is reported, not fatal
                    print(f"{graph.name} / {driver} / batch {batch}: failed: {str(error).splitlines()[0][:200]}")
            for name, row in measure(generators, prompts, shape["new"], args.runs).items():
                rows[name, driver, batch] = row
            del generators
        _table(rows, graphs, batch, bandwidth, facts)


def _chosen(names: str, drivers: dict) -> dict:
    """The drivers named in `names` (comma-separated)."""
    wanted = [item.strip() for item in names.split(",")]
    chosen = {name: make for name, make in drivers.items() if name in wanted}
    if len(chosen) != len(wanted):
        sys.exit(f"--drivers {names!r}: allowed: {', '.join(drivers)}")
    return chosen


def _table(rows, graphs: list[Graph], batch: int, bandwidth: float, facts: dict) -> None:
    print(f"\nbatch {batch}: prefill ms | decode tok/s | vs builder of the same precision and driver | "
          f"% of the bandwidth bound | greedy tokens equal to the plain loop on the same graph")
    print("| driver | graph | prefill ms | decode tok/s | vs builder | % of bound | tokens = plain loop |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for driver in DRIVERS:
        for graph in graphs:
            if (graph.name, driver, batch) not in rows:
                continue
            prefill, rate, tokens = rows[graph.name, driver, batch]
            baseline = rows.get((f"builder {graph.precision}", driver, batch))
            ratio = f"{rate / baseline[1]:.2f}×" if baseline else "—"
            bound = 100 * rate / (batch * bandwidth / facts[graph.name][1])
            plain = rows.get((graph.name, "plain onnxruntime loop", batch))
            same = f"{int((plain[2] == tokens).sum())}/{tokens.size}" if plain is not None and plain[2].shape == tokens.shape else "—"
            print(f"| {driver} | {graph.name} | {prefill:.0f} | {rate:.0f} | {ratio} | {bound:.0f} % | {same} |")
    for graph in graphs:  # the in-place KV buffers against IO binding alone, same graph, same run
        in_place = rows.get((graph.name, "light_llm.runtime", batch))
        bound_only = rows.get((graph.name, "light_llm.runtime (IO binding only)", batch))
        if in_place and bound_only:
            print(f"{graph.name}: light_llm.runtime decode {in_place[1] / bound_only[1]:.2f}× its IO-binding-only "
                  f"row (in place: {_shares_kv_buffer(graph)}; tokens equal: {bool((in_place[2] == bound_only[2]).all())})")


if __name__ == "__main__":
    main()
