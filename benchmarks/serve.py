"""`lightllm serve` under load: requests/s, aggregate generated tokens/s and latency
percentiles (p50, p95 of time to first token and of the whole request) at 1, 4 and 16
concurrent streaming clients, on the ~25M-parameter llama-style model of
benchmarks/eager_decode.py (random init, an 8192-word tokenizer, ONNX fp32 export), beside
light_llm.runtime's single-stream speed measured in this same run (batch 1,
generate_ids, same prompt length, same new tokens, same threads).

Every client sends --rounds requests one after the other: a prompt of --prompt distinct
token ids, --new greedy tokens (no end-of-text in the vocabulary, so every request makes
them all). The ratio column is aggregate tokens/s ÷ the single-stream figure; goals:
≥ 0.9 at 1 client, ≥ 3 at 16 (the server batches concurrent requests into one decode).
The clients run in this process and share the CPU with the server.

    .venv/bin/python benchmarks/serve.py [--threads 2] [--rounds 3] [--runs 3] [--quick]
"""

from __future__ import annotations

import argparse
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


def single_stream(folder: Path, prompts: list[list[int]], new: int, threads: int, runs: int) -> float:
    """light_llm.runtime batch 1: generated tokens/s, prefill included (median of runs)."""
    from light_llm.runtime import generate_ids, load_export

    model = load_export(folder, threads=threads)
    generate_ids(model.run, model.geometry, prompts[:1], max_new_tokens=new)  # warm-up
    times = []
    for run in range(runs):
        start = time.perf_counter()
        generate_ids(model.run, model.geometry, [prompts[run % len(prompts)]], max_new_tokens=new)
        times.append(time.perf_counter() - start)
    return new / statistics.median(times)


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


def one_request(url: str, prompt: list[int], new: int) -> tuple[float, float, int]:
    """(time to first token s, whole request s, tokens) of one streamed completion."""
    body = {"prompt": prompt, "max_tokens": new, "temperature": 0, "stream": True, "return_token_ids": True}
    start = time.perf_counter()
    first, tokens = None, 0
    with httpx.stream("POST", url, json=body, timeout=600) as response:
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
    def client(index: int) -> list[tuple[float, float, int]]:
        return [one_request(url, prompts[(index * rounds + r) % len(prompts)], new) for r in range(rounds)]

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = [item for items in pool.map(client, range(clients)) for item in items]
    wall = time.perf_counter() - start
    first = [r[0] for r in results]
    whole = [r[1] for r in results]
    return {"requests/s": len(results) / wall, "tok/s": sum(r[2] for r in results) / wall,
            "ttft": np.percentile(first, [50, 95]) * 1e3, "latency": np.percentile(whole, [50, 95]) * 1e3,
            "tokens": sum(r[2] for r in results), "expected": len(results) * new}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads (server and baseline)")
    parser.add_argument("--rounds", type=int, default=3, help="requests per client")
    parser.add_argument("--runs", type=int, default=3, help="runs of the single-stream baseline (median)")
    parser.add_argument("--prompt", type=int, default=128, help="prompt tokens")
    parser.add_argument("--new", type=int, default=128, help="new tokens per request")
    parser.add_argument("--quick", action="store_true", help="smoke run: 32+32 tokens, 1 round, 1 run")
    args = parser.parse_args()
    if args.quick:
        args.prompt, args.new, args.rounds, args.runs = 32, 32, 1, 1
    import torch

    print(f"CPU: {cpu_name()} ({os.cpu_count()} cores, torch CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}), {args.threads} onnxruntime threads")
    root = Path(tempfile.mkdtemp(prefix="lightllm-bench-serve-"))
    folder = make_export(root)
    rng = np.random.default_rng(0)
    prompts = [rng.integers(1, 8192, args.prompt).tolist() for _ in range(64)]
    baseline = single_stream(folder, prompts, args.new, args.threads, args.runs)
    print(f"model: ~25M parameters (benchmarks/eager_decode.py's spec), prompt {args.prompt} tokens, "
          f"{args.new} new tokens (greedy), {args.rounds} request(s) per client")
    print(f"light_llm.runtime single stream: {baseline:.1f} tok/s (median of {args.runs})\n")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = start_server(folder, args.threads, port)
    try:
        url = f"http://127.0.0.1:{port}/v1/completions"
        one_request(url, prompts[0], 4)  # warm-up
        print("| clients | requests/s | tok/s (aggregate) | vs single stream | TTFT p50 / p95 ms | request p50 / p95 ms |")
        print("|---:|---:|---:|---:|---:|---:|")
        for clients in LEVELS:
            row = load(url, clients, args.rounds, prompts, args.new)
            assert row["tokens"] == row["expected"], f"{row['tokens']} tokens, expected {row['expected']}"
            print(f"| {clients} | {row['requests/s']:.2f} | {row['tok/s']:.1f} | {row['tok/s'] / baseline:.2f}× | "
                  f"{row['ttft'][0]:.0f} / {row['ttft'][1]:.0f} | {row['latency'][0]:.0f} / {row['latency'][1]:.0f} |")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
