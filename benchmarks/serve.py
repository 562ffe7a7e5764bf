"""`lightllm serve` under load: requests/s, aggregate generated tokens/s and latency
percentiles (p50, p95 of time to first token and of the whole request) at 1, 4 and 16
concurrent streaming clients, on the ~25M-parameter llama-style model of
benchmarks/eager_decode.py (random init, an 8192-word tokenizer, ONNX fp32 export), beside
light_llm.runtime's single-stream speed measured in this same run (batch 1,
generate_ids, same prompt length, same new tokens, same threads).

Every client sends --rounds requests one after the other: a prompt of --prompt distinct
token ids, --new greedy tokens (no end-of-text in the vocabulary, so every request makes
them all). Each level runs --repeats times, each time right after a single-stream figure
(the median of SINGLE_RUNS runs, the server idle), so both see the same machine load;
the table shows medians over the repeats (latency percentiles over every request). The
ratio column is the median over the repeats of the level's aggregate tokens/s ÷ the
single stream measured just before it (with the lowest and highest of them); goals:
≥ 0.9 at 1 client, ≥ 3 at 16 (the server batches concurrent requests into one decode).
The clients run in this process, one connection each (as the openai package keeps
one), and share the CPU with the server.

    .venv/bin/python benchmarks/serve.py [--threads 2] [--rounds 3] [--repeats 5] [--folder DIR] [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from eager_decode import SPEC  # the ~25M-parameter benchmark model (benchmarks/ is on sys.path)

LEVELS = (1, 4, 16)
SINGLE_RUNS = 3  # single-stream runs right before each level: their median is that level's baseline


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def make_export(root: Path) -> Path:
    """The benchmark model's folder with a word-level tokenizer of its 8192 ids, exported."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    from light_llm.compiler.build import build
    from light_llm.compiler.pipeline import lower_spec
    from light_llm.compiler.resolve import resolve_spec
    from light_llm.exports.onnx import export_onnx
    from light_llm.model_folder import load_model_folder, save_model_folder
    from light_llm.schemas.spec import Spec

    spec = resolve_spec(Spec.model_validate(SPEC))
    save_model_folder(root / "model", spec, build(lower_spec(spec), seed=0))
    tokenizer = Tokenizer(models.WordLevel({f"w{i}": i for i in range(8192)}, unk_token="w0"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.save(str(root / "model" / "tokenizer.json"))
    result = export_onnx(load_model_folder(root / "model"), root / "onnx")
    print(f"export: {result.parity.summary()}")
    return root / "onnx"


class SingleStream:
    """light_llm.runtime batch 1 as `lightllm generate` and TextGenerator decode (IO
    binding, and in-place KV buffers on a fused export): generated tokens/s of one
    request, prefill included."""

    def __init__(self, folder: Path, threads: int, new: int):
        from light_llm.runtime import generate_ids, load_export

        self.generate_ids, self.model, self.new = generate_ids, load_export(folder, threads=threads), new

    def __call__(self, prompt: list[int]) -> float:
        model = self.model
        start = time.perf_counter()
        self.generate_ids(model.run, model.geometry, [prompt], max_new_tokens=self.new,
                          shares_kv_buffer=model.shares_kv_buffer)
        return self.new / (time.perf_counter() - start)


def start_server(folder: Path, threads: int, port: int) -> subprocess.Popen:
    command = [sys.executable, "-c", "from light_llm.cli.app import main; main()", "serve", str(folder),
               "--port", str(port), "--threads", str(threads), "--max-batch", "16", "--max-queue", "64"]
    server = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)
            return server
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("lightllm serve did not start")
            time.sleep(0.3)


def one_request(client: httpx.Client, url: str, prompt: list[int], new: int) -> tuple[float, float, int]:
    """(time to first token s, whole request s, tokens) of one streamed completion, on the
    client's kept-alive connection (as the openai package does)."""
    body = {"prompt": prompt, "max_tokens": new, "temperature": 0, "stream": True, "return_token_ids": True}
    start = time.perf_counter()
    first, tokens = None, 0
    with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: {"):
                continue
            ids = json.loads(line[6:])["choices"][0].get("token_ids", [])
            if ids and first is None:
                first = time.perf_counter() - start
            tokens += len(ids)
    return first, time.perf_counter() - start, tokens


def load(url: str, clients: int, rounds: int, prompts: list[list[int]], new: int) -> dict:
    """Every client (one thread, one connection, made before the clock starts) sends
    `rounds` requests one after the other."""
    connections = [httpx.Client(timeout=600) for _ in range(clients)]

    def client(index: int) -> list[tuple[float, float, int]]:
        return [one_request(connections[index], url, prompts[(index * rounds + r) % len(prompts)], new)
                for r in range(rounds)]

    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            results = [item for items in pool.map(client, range(clients)) for item in items]
        wall = time.perf_counter() - start
    finally:
        for connection in connections:
            connection.close()
    first = [r[0] for r in results]
    whole = [r[1] for r in results]
    tokens = sum(r[2] for r in results)
    assert tokens == len(results) * new, f"{tokens} tokens, expected {len(results) * new}"
    return {"requests/s": len(results) / wall, "tok/s": tokens / wall, "first": first, "whole": whole}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads (server and baseline)")
    parser.add_argument("--rounds", type=int, default=3, help="requests per client")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each level, each after a single-stream run")
    parser.add_argument("--prompt", type=int, default=128, help="prompt tokens")
    parser.add_argument("--new", type=int, default=128, help="new tokens per request")
    parser.add_argument("--folder", type=Path, help="export here, or reuse the export an earlier run left here")
    parser.add_argument("--quick", action="store_true", help="smoke run: 32+32 tokens, 1 round, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.prompt, args.new, args.rounds, args.repeats = 32, 32, 1, 1
    import torch

    print(f"CPU: {cpu_name()} ({os.cpu_count()} cores, {len(os.sched_getaffinity(0))} usable, torch CPU "
          f"capability {torch.backends.cpu.get_cpu_capability()}), {args.threads} onnxruntime threads")
    root = args.folder or Path(tempfile.mkdtemp(prefix="lightllm-bench-serve-"))
    folder = root / "onnx" if (root / "onnx" / "light_llm.json").is_file() else make_export(root)
    rng = np.random.default_rng(0)
    prompts = [rng.integers(1, 8192, args.prompt).tolist() for _ in range(64)]
    single = SingleStream(folder, args.threads, args.new)
    single(prompts[-1])  # warm-up
    print(f"model: ~25M parameters (benchmarks/eager_decode.py's spec), prompt {args.prompt} tokens, "
          f"{args.new} new tokens (greedy), {args.rounds} request(s) per client, {args.repeats} repeat(s)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = start_server(folder, args.threads, port)
    baseline: list[float] = []
    rows: dict[int, list[dict]] = {clients: [] for clients in LEVELS}
    try:
        url = f"http://127.0.0.1:{port}/v1/completions"
        with httpx.Client(timeout=600) as client:
            one_request(client, url, prompts[0], 4)  # warm-up
        picks = itertools.count()  # the single stream's prompts, each a different one
        for _ in range(args.repeats):
            for clients in LEVELS:
                before = statistics.median(single(prompts[next(picks) % len(prompts)]) for _ in range(SINGLE_RUNS))
                baseline.append(before)
                rows[clients].append({**load(url, clients, args.rounds, prompts, args.new), "single": before})
    finally:
        server.terminate()
        server.wait(timeout=30)
    reference = statistics.median(baseline)
    print(f"light_llm.runtime single stream: {reference:.1f} tok/s (median of {len(baseline)} measurements, "
          f"{min(baseline):.1f}..{max(baseline):.1f}; each the median of {SINGLE_RUNS} runs)\n")
    print("| clients | requests/s | tok/s (aggregate) | vs single stream (range) | TTFT p50 / p95 ms | request p50 / p95 ms |")
    print("|---:|---:|---:|---:|---:|---:|")
    for clients, runs in rows.items():
        speed = statistics.median(run["tok/s"] for run in runs)
        ratios = [run["tok/s"] / run["single"] for run in runs]
        first = np.percentile([t for run in runs for t in run["first"]], [50, 95]) * 1e3
        whole = np.percentile([t for run in runs for t in run["whole"]], [50, 95]) * 1e3
        print(f"| {clients} | {statistics.median(run['requests/s'] for run in runs):.2f} | {speed:.1f} | "
              f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}..{max(ratios):.2f}) | {first[0]:.0f} / {first[1]:.0f} | "
              f"{whole[0]:.0f} / {whole[1]:.0f} |")


if __name__ == "__main__":
    main()
