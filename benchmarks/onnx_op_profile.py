"""Where a decode step's time goes in each ONNX graph of benchmarks/inference.py: onnxruntime's
profiler on, the graphs driven by that benchmark's plain onnxruntime loop or og.Generator
(--driver; prompt 128, --new tokens, batch 1), taking turns within each run; the kernel time
of the decode steps (every run of a generation but its first, the prefill; the warm-up
generation left out) summed per op type (or per node with --by node) within each decode
step, the median over the steps.

The profiler adds a few µs to every node, so the sums are above the unprofiled step time and
a graph with more nodes pays more; compare op types across graphs, and take speed from
benchmarks/inference.py.

    .venv/bin/python benchmarks/onnx_op_profile.py [--graphs "light_llm ort-1.32 int4,builder int4"]
        [--runs 3] [--new 64] [--by node] [--driver og.Generator] [--quick]
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import gc
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import inference  # benchmarks/inference.py: the graphs and the plain loop

KERNEL_SUFFIX = "_kernel_time"


def decode_windows(events: list[dict], runs_per_generation: int, skip_generations: int) -> list[tuple[int, int]]:
    """(start, end) µs of every decode run: the profile's session runs in order, one
    generation per `runs_per_generation` runs, its first the prefill; the first
    `skip_generations` generations (the warm-up) left out."""
    runs = sorted((event for event in events if event.get("name") == "model_run"), key=lambda event: event["ts"])
    windows = []
    for index, run in enumerate(runs):
        generation, step = divmod(index, runs_per_generation)
        if generation >= skip_generations and step:
            windows.append((run["ts"], run["ts"] + run["dur"]))
    return windows


def per_step(events: list[dict], windows: list[tuple[int, int]], by: str = "op") -> dict[str, float]:
    """µs of the kernels that ran inside each of `windows`, summed per op type (`by="op"`) or
    per node name (`by="node"`) within a window; the median over the windows (a moment when
    the machine stalls one kernel moves it little)."""
    starts = [start for start, _ in windows]
    totals: dict[str, list[float]] = {}
    for event in events:
        if event.get("cat") != "Node" or not event.get("name", "").endswith(KERNEL_SUFFIX):
            continue
        index = bisect.bisect_right(starts, event["ts"]) - 1
        if index < 0 or event["ts"] > windows[index][1]:
            continue
        key = event["args"]["op_name"] if by == "op" else event["name"][: -len(KERNEL_SUFFIX)]
        totals.setdefault(key, [0.0] * len(windows))[index] += event["dur"]
    return {key: statistics.median(values) for key, values in totals.items()}


DRIVERS = ("plain onnxruntime loop", "og.Generator")


def profile(graphs: list, shape: dict, threads: int, runs: int, new: int, by: str, root: Path,
            driver: str = DRIVERS[0]) -> dict[str, dict]:
    """Per graph name: {op or node: µs per decode step} plus the median model_run and the
    median decode step the driver timed (µs), and the kernels run per step."""
    prefixes = {graph.name: root / f"profile-{index}" for index, graph in enumerate(graphs)}  # file names end in the second
    with _genai_profiling(graphs if driver == "og.Generator" else [], prefixes):
        loops = {graph.name: _profiled_loop(graph, threads, shape, prefixes[graph.name], driver) for graph in graphs}
        steps = _drive(loops, np.random.default_rng(0).integers(0, shape["vocab"], (1, shape["prompt"])), runs, new)
        profiles = _end_profiling(loops, prefixes)
    table = {}
    for name, path in profiles.items():
        events = json.loads(path.read_text())
        path.unlink()
        if sum(1 for event in events if event.get("name") == "model_run") != (runs + 1) * new:
            sys.exit(f"{name}: the profile's runs are not {runs + 1} generations of {new}: cannot tell the decode steps")
        windows = decode_windows(events, new, skip_generations=1)
        row = per_step(events, windows, by)
        first_start, first_end = windows[0]
        row["(kernels run per step)"] = sum(1 for event in events if event.get("name", "").endswith(KERNEL_SUFFIX)
                                            and first_start <= event["ts"] <= first_end)
        row["(sum of the medians)"] = sum(value for key, value in row.items() if not key.startswith("("))
        row["(model_run, median)"] = statistics.median(end - start for start, end in windows)
        row["(driver's decode step, median)"] = 1e6 * statistics.median(steps[name])
        table[name] = row
    return table


def _drive(loops: dict, prompts: np.ndarray, runs: int, new: int) -> dict[str, list[float]]:
    """A warm-up generation, then `runs` in which the graphs take turns; the decode steps
    (seconds) each driver timed after the warm-up."""
    for generate in loops.values():
        generate(prompts, new)
        generate.steps.clear()
    for _ in range(runs):
        for generate in loops.values():
            generate(prompts, new)
    return {name: list(generate.steps) for name, generate in loops.items()}


@contextlib.contextmanager
def _genai_profiling(graphs: list, prefixes: dict[str, Path]):
    """og.Generator's profiler is switched on in each folder's genai_config.json (session_options)
    while the block runs; the files are as they were afterwards, so later runs are not profiled."""
    originals = {}
    try:
        for graph in graphs:
            path = graph.folder / "genai_config.json"
            originals[path] = path.read_text()
            config = json.loads(originals[path])
            config["model"]["decoder"].setdefault("session_options", {})["enable_profiling"] = str(prefixes[graph.name])
            path.write_text(json.dumps(config, indent=2))
        yield
    finally:
        for path, text in originals.items():
            path.write_text(text)


def _profiled_loop(graph, threads: int, shape: dict, prefix: Path, driver: str):
    """The driver of benchmarks/inference.py on `graph`, onnxruntime's profiler writing to `prefix`
    (og.Generator: through genai_config.json, _genai_profiling)."""
    if driver == "og.Generator":
        return inference.genai_loop(graph, threads, shape)
    return inference.plain_loop(graph, threads, shape, profile_prefix=str(prefix))


def _end_profiling(loops: dict, prefixes: dict[str, Path]) -> dict[str, Path]:
    """Per graph name, its profile's file: ended by the session (plain loop), or written when
    og.Generator's model is freed."""
    if all(hasattr(generate, "session") for generate in loops.values()):
        return {name: Path(generate.session.end_profiling()) for name, generate in loops.items()}
    loops.clear()
    gc.collect()
    return {name: max(prefix.parent.glob(f"{prefix.name}_*.json"), key=lambda path: path.stat().st_mtime)
            for name, prefix in prefixes.items()}


def print_table(table: dict[str, dict], top: int) -> None:
    names = list(table)
    keys = sorted({key for row in table.values() for key in row},
                  key=lambda key: (not key.startswith("("), -max(row.get(key, 0) for row in table.values())))
    keys = [key for key in keys if key.startswith("(")] + [key for key in keys if not key.startswith("(")][:top]
    print(f"| µs per decode step | {' | '.join(names)} |")
    print(f"|---|{'---:|' * len(names)}")
    for key in keys:
        print(f"| {key} | {' | '.join(f'{table[name].get(key, 0):.1f}' for name in names)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", default="light_llm int4,light_llm ort-1.32 int4,builder int4",
                        help="comma-separated graph names of benchmarks/inference.py")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--new", type=int, default=64, help="new tokens per generation (runs: prefill + new - 1 decode)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--by", choices=("op", "node"), default="op")
    parser.add_argument("--driver", choices=DRIVERS, default=DRIVERS[0])
    parser.add_argument("--top", type=int, default=40, help="rows shown (largest first)")
    parser.add_argument("--quick", action="store_true", help="benchmarks/inference.py's small model (smoke test)")
    args = parser.parse_args()
    shape = inference.QUICK if args.quick else inference.SHAPE
    root = Path(tempfile.mkdtemp(prefix="lightllm-op-profile-"))
    print(f"CPU: {inference.cpu_name()}; {args.threads} threads; prompt {shape['prompt']}, {args.new} new tokens, "
          f"{args.runs} runs after a warm-up; folders in {root}")
    wanted = [name.strip() for name in args.graphs.split(",")]
    graphs = [graph for graph in inference.make_graphs(root, shape, args.threads) if graph.name in wanted]
    missing = set(wanted) - {graph.name for graph in graphs}
    if missing:
        sys.exit(f"--graphs: no graph named {', '.join(sorted(missing))}")
    print(f"driver: {args.driver}")
    print_table(profile(graphs, shape, args.threads, args.runs, args.new, args.by, root, args.driver), args.top)


if __name__ == "__main__":
    main()
