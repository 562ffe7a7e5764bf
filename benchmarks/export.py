"""Export time and peak memory at real sizes, against onnxruntime-genai's model builder.

Builds a random-weight transformers LlamaForCausalLM of a real model's shape, saved with
safetensors (plus a byte-level tokenizer), then runs on that one folder, each step as a
child process of its own:

    lightllm import-hf HF --out MODEL
    lightllm export MODEL --onnx                    (graph + verification)
    lightllm export MODEL --onnx --quantize int4    (graph + quantization + verification)
    python -m onnxruntime_genai.models.builder -i HF -p fp32|int4 -e cpu
    lightllm export MODEL --torchscript / --pt2     (with --torch-targets: reported, even when they fail)

Peak memory is the child's largest resident set (os.wait4's rusage ru_maxrss, which covers
the child and the processes it waited for), wall time by the clock. Ratios: light_llm's
export against the builder's build of the same precision; the weights' fp32 bytes are the
yardstick of the memory goal (issue 16: export --onnx ≤ 25 s and ≤ 2× the weight bytes,
int4 ≤ 40 s on the smollm-135m shape). Each light_llm export's phases (light_llm.json
"phases": write graph, quantize, verify: eager, verify: export, inline weights, ...) are
printed with their times and peaks, so the step that sets the peak is named.

    .venv/bin/python benchmarks/export.py [--shape smollm-135m|llama-1b|tiny] [--runs 1] [--keep] [--torch-targets]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHAPES = {
    "smollm-135m": dict(hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                        intermediate_size=1536, vocab_size=49152),
    "tiny": dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                 intermediate_size=352, vocab_size=512),  # a smoke test of the script
    "llama-1b": dict(hidden_size=2048, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
                     intermediate_size=8192, vocab_size=128256),
}
LIGHTLLM = [sys.executable, "-c", "from light_llm.cli.app import main; main()"]  # `lightllm` of this interpreter


def cpu_name() -> str:
    import torch

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return f"{model}, {os.cpu_count()} cores, torch CPU capability {torch.backends.cpu.get_cpu_capability()}"


def write_hf_folder(path: Path, shape: dict) -> int:
    """A random-weight LlamaForCausalLM with tied embeddings; returns its fp32 weight bytes."""
    import json

    import torch
    import transformers

    from light_llm.tokenizer import byte_tokenizer, hf_tokenizer_config

    config = transformers.LlamaConfig(**shape, max_position_embeddings=2048, tie_word_embeddings=True,
                                      rms_norm_eps=1e-5, bos_token_id=256, eos_token_id=256, pad_token_id=257)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer = byte_tokenizer()
    tokenizer.save(str(path / "tokenizer.json"))
    (path / "tokenizer_config.json").write_text(json.dumps(hf_tokenizer_config(tokenizer, 2048)))
    return sum(parameter.numel() * 4 for parameter in model.parameters())


def timed(command: list[str], env: dict | None = None, required: bool = True) -> tuple[float, float] | str:
    """(seconds, peak resident GB) of `command` as a child process. On failure: exits
    where `required`, else returns the last line of its output (the reason)."""
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        if not required:
            lines = [line for line in output.splitlines() if line.strip()]
            return f"failed (exit {child.returncode}) after {seconds:.0f} s: {(lines or ['no output'])[-1][:300]}"
        sys.exit(f"failed ({child.returncode}): {' '.join(command)}\n{output[-3000:]}")
    return seconds, usage.ru_maxrss * 1024 / 1e9  # ru_maxrss is in KiB on Linux


def print_phases(folder: Path, weight_bytes: int) -> None:
    """The phases recorded in the export's light_llm.json (of its last run)."""
    import json

    phases = json.loads((folder / "light_llm.json").read_text()).get("phases", [])
    for phase in phases:
        peak = phase["peak_memory_mb"] * 1024**2
        print(f"    {phase['name']}: {phase['seconds']:.1f} s, peak {peak / 1e9:.2f} GB "
              f"({peak / weight_bytes:.2f}× the weights)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="smollm-135m")
    parser.add_argument("--runs", type=int, default=1, help="medians of this many runs of each step")
    parser.add_argument("--keep", action="store_true", help="keep the folders (printed) afterwards")
    parser.add_argument("--torch-targets", action="store_true",
                        help="also time `export --torchscript` and `--pt2` (a failure is reported, not fatal)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lightllm-export-bench-"))
    hf = root / "hf"
    weight_bytes = write_hf_folder(hf, SHAPES[args.shape])
    print(f"CPU: {cpu_name()}")
    print(f"model: random-weight Llama, {args.shape} shape {SHAPES[args.shape]}, tied; "
          f"{weight_bytes / 1e6:.0f} MB of fp32 weights; median of {args.runs} run(s); folders in {root}")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    steps = {
        "lightllm import-hf": lambda run: LIGHTLLM + ["import-hf", str(hf), "--out", str(root / f"model{run}")],
        "lightllm export --onnx": lambda run: LIGHTLLM + ["export", str(root / "model0"), "--onnx",
                                                          "--out", str(root / f"onnx{run}")],
        "lightllm export --onnx --quantize int4": lambda run: LIGHTLLM + [
            "export", str(root / "model0"), "--onnx", "--quantize", "int4", "--out", str(root / f"int4-{run}")],
        "builder fp32": lambda run: [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(hf),
                                     "-o", str(root / f"builder-fp32-{run}"), "-p", "fp32", "-e", "cpu",
                                     "-c", str(root / "cache")],
        "builder int4": lambda run: [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(hf),
                                     "-o", str(root / f"builder-int4-{run}"), "-p", "int4", "-e", "cpu",
                                     "-c", str(root / "cache")],
    }
    optional = {}
    if args.torch_targets:
        optional = {f"lightllm export --{target}": lambda run, target=target: LIGHTLLM + [
            "export", str(root / "model0"), f"--{target}", "--out", str(root / f"{target}-{run}")]
            for target in ("torchscript", "pt2")}
    exports = {"lightllm export --onnx": "onnx", "lightllm export --onnx --quantize int4": "int4-"}
    results, failures = {}, {}
    for name, command in {**steps, **optional}.items():
        measured = [timed(command(run), env, required=name not in optional) for run in range(args.runs)]
        if any(isinstance(m, str) for m in measured):
            failures[name] = next(m for m in measured if isinstance(m, str))
            print(f"{name}: {failures[name]}", flush=True)
            continue
        results[name] = (statistics.median(m[0] for m in measured), statistics.median(m[1] for m in measured))
        print(f"{name}: {results[name][0]:.1f} s, peak {results[name][1]:.2f} GB", flush=True)
        if name in exports:
            print_phases(root / f"{exports[name]}0", weight_bytes)
    baseline = {"lightllm export --onnx": "builder fp32", "lightllm export --onnx --quantize int4": "builder int4"}
    print("\n| step | seconds | peak GB | peak / fp32 weights | time vs builder | peak vs builder |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (seconds, peak) in results.items():
        other = results.get(baseline.get(name, ""))
        ratios = f"{seconds / other[0]:.2f}× | {peak / other[1]:.2f}×" if other else "— | —"
        print(f"| {name} | {seconds:.1f} | {peak:.2f} | {peak * 1e9 / weight_bytes:.2f}× | {ratios} |")
    for name, reason in failures.items():
        print(f"| {name} | {reason} | | | | |")
    sizes = {name: sum(f.stat().st_size for f in (root / name).iterdir() if f.name.startswith("model.onnx"))
             for name in ("int4-0", "builder-int4-0")}
    print(f"\nint4 file: light_llm {sizes['int4-0'] / 1e6:.1f} MB, builder {sizes['builder-int4-0'] / 1e6:.1f} MB "
          f"({sizes['int4-0'] / sizes['builder-int4-0']:.2f}×)")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
