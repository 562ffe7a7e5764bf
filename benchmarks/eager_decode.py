"""Eager PyTorch decode speed of a ~25M-parameter llama-style model, batch 1, 128-token prompt,
128 new tokens (greedy): light_llm eager with KV cache, onnxruntime fp32 / int8 / int4
(exports of the same weights), and Hugging Face transformers `generate` (LlamaForCausalLM,
the same configuration, weights copied) with its default attention (SDPA) and with its eager
attention. Random init: speed does not depend on training. Each row names its attention.

light_llm eager runs three times: with the few-row Linear kernel chosen by calibration on
this CPU (the default), and with each candidate forced (plain F.linear, blocked batched
matmul); the chosen kernels and the calibration's time are printed at the end. A fourth
row is the compiled decode path of `lightllm generate --compile on` (a fixed-capacity KV
cache and torch.compile of the decode step, through the generator); its compile time
(paid once per process and shape, in the warm-up, not in the figures) is printed with it.

prefill = time to the first new token; decode tok/s = the other 127 tokens / their time.
Every figure is the median of --runs runs after a warm-up; ratios are against HF with its
default attention (decode) and onnxruntime fp32 (quantized decode), measured in this same
process.

    .venv/bin/python benchmarks/eager_decode.py [--runs 5] [--threads 2] [--quick]

--quick: 2 runs, no forced-kernel rows, no int8/int4 exports (HF default and eager
attention, light_llm eager, compiled, onnxruntime fp32 only).

(benchmarks/inference.py compares the ONNX exports with onnxruntime-genai's model builder.)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from light_llm.compiler.build import build
from light_llm.compiler.pipeline import lower_spec
from light_llm.compiler.resolve import resolve_spec
from light_llm.exports.onnx import export_onnx
from light_llm.model_folder import load_model_folder, save_model_folder
from light_llm.models.transformer.linear_calibration import calibration_seconds, forced_kernel, kernel_choices
from light_llm.generation.compiled_decode import CompiledDecode
from light_llm.generation.eager_signature import signature_module
from light_llm.runtime.generator import generate_ids
from light_llm.runtime.geometry import Geometry
from light_llm.runtime.session import OnnxSession
from light_llm.schemas.spec import Spec

PROMPT, NEW = 128, 128
SPEC = {
    "spec_version": 1,
    "model": {
        "vocab_size": 8192, "d_model": 512, "num_layers": 6, "max_seq_len": 512, "tie_embeddings": False,
        "attention": {"variant": "gqa", "num_heads": 8, "num_kv_heads": 2},
        "positional": {"encoding": "rope"}, "ffn": {"variant": "swiglu"},
        "norm": {"type": "rmsnorm", "placement": "pre"},
    },
}
Generate = Callable[[np.ndarray, int], np.ndarray]  # prompts [B, S], new tokens → tokens [B, new], greedy


def eager_generate(model) -> Generate:
    @torch.inference_mode()
    def generate(prompts: np.ndarray, new: int) -> np.ndarray:
        ids = torch.from_numpy(prompts)
        batch, length = ids.shape
        mask = torch.ones_like(ids)
        positions = torch.arange(length).expand(batch, length)
        logits, past = model.forward_with_cache(ids, mask, positions, model.empty_cache(batch))
        tokens = [logits[:, -1].argmax(-1)]
        while len(tokens) < new:
            mask = torch.ones(batch, mask.shape[1] + 1, dtype=torch.long)
            positions = positions[:, -1:] + 1
            logits, past = model.forward_with_cache(tokens[-1][:, None], mask, positions, past)
            tokens.append(logits[:, -1].argmax(-1))
        return torch.stack(tokens, dim=1).numpy()

    return generate


def compiled_generate(model) -> tuple[Generate, CompiledDecode]:
    geometry = Geometry.from_ir(model.ir)
    decode = CompiledDecode(signature_module(model, geometry), geometry, compile="on")
    return (lambda prompts, new: np.array(generate_ids(decode, geometry, prompts.tolist(), max_new_tokens=new))), decode


def onnx_generate(folder: Path, threads: int) -> Generate:
    import json

    session = OnnxSession(folder / "model.onnx", threads=threads)
    geometry = Geometry.from_dict(json.loads((folder / "light_llm.json").read_text())["geometry"])
    return lambda prompts, new: np.array(generate_ids(session, geometry, prompts.tolist(), max_new_tokens=new))


def hf_model(model_folder, attention: str | None):
    """transformers' model of the same weights; `attention`: its attn_implementation (None:
    transformers' default, SDPA on this torch)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    from light_llm.interop.hf import hf_config, to_hf_state_dict

    model = model_folder.build()
    config = AutoConfig.for_model(**hf_config(model.ir))
    chosen = {} if attention is None else {"attn_implementation": attention}
    hf = AutoModelForCausalLM.from_config(config, **chosen)
    hf.load_state_dict(to_hf_state_dict(model.ir, model.state_dict()))
    return hf.eval()


def hf_model_generate(hf) -> Generate:
    """transformers' own `generate`, greedy, exactly `new` tokens per row."""

    @torch.inference_mode()
    def generate(prompts: np.ndarray, new: int) -> np.ndarray:
        ids = torch.from_numpy(prompts)
        out = hf.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new, min_new_tokens=new,
                          do_sample=False, pad_token_id=0)
        return out[:, ids.shape[1]:].numpy()

    return generate


def cpu_name() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return f"{names[0] if names else 'unknown CPU'} ({torch.backends.cpu.get_cpu_capability()}), torch {torch.__version__}"


def forced(kernel: str, generate: Generate) -> Generate:
    return lambda prompt, new: forced_kernel(kernel)(generate)(prompt, new)


def measure(generate: Generate, prompt: np.ndarray, runs: int) -> tuple[float, float, np.ndarray]:
    """(prefill ms, decode tok/s, tokens), medians of `runs` after one warm-up."""
    tokens = generate(prompt, NEW)
    first, total = [], []
    for _ in range(runs):
        start = time.perf_counter()
        generate(prompt, 1)
        first.append(time.perf_counter() - start)
        start = time.perf_counter()
        generate(prompt, NEW)
        total.append(time.perf_counter() - start)
    prefill = statistics.median(first)
    return prefill * 1e3, (NEW - 1) / (statistics.median(total) - prefill), tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="2 runs, the main rows only")
    args = parser.parse_args()
    if args.quick:
        args.runs = min(args.runs, 2)
    torch.set_num_threads(args.threads)
    root = Path(tempfile.mkdtemp(prefix="lightllm-bench-"))
    spec = resolve_spec(Spec.model_validate(SPEC))
    save_model_folder(root / "model", spec, build(lower_spec(spec), seed=0))
    folder = load_model_folder(root / "model")
    model = folder.build()
    print(f"model: {model.num_parameters() / 1e6:.1f}M parameters (llama-style, vocab 8192, d_model 512, "
          f"6 layers, GQA 8/2), batch 1, prompt {PROMPT}, {NEW} new tokens, {args.threads} threads, "
          f"median of {args.runs} runs\ncpu: {cpu_name()}")
    compiled, decode = compiled_generate(model)
    default = hf_model(folder, None)
    baseline = f"HF transformers, {default.config._attn_implementation} attention (its default)"
    backends: dict[str, Generate] = {
        baseline: hf_model_generate(default),
        "HF transformers, eager attention": hf_model_generate(hf_model(folder, "eager")),
        f"light_llm eager (KV cache, {model.ir.blocks[0].attention.kernel} attention)": eager_generate(model),
        "light_llm compiled decode (static cache, grouped-product attention)": compiled,
    }
    if not args.quick:
        backends["light_llm eager, plain F.linear forced"] = forced("plain", eager_generate(model))
        backends["light_llm eager, blocked few-row forced"] = forced("blocked", eager_generate(model))
    for quantize in ("none",) if args.quick else ("none", "int8", "int4"):
        result = export_onnx(folder, root / f"onnx-{quantize}", quantize=quantize)
        print(f"export {quantize}: {result.parity.summary()}")
        backends[f"onnxruntime {'fp32' if quantize == 'none' else quantize}"] = onnx_generate(result.out_dir, args.threads)

    prompt = np.random.default_rng(0).integers(0, 8192, (1, PROMPT))
    rows = {name: measure(generate, prompt, args.runs) for name, generate in backends.items()}
    hf_rate, ort_rate = rows[baseline][1], rows["onnxruntime fp32"][1]
    reference = next(tokens for name, (_, _, tokens) in rows.items() if name.startswith("light_llm eager"))
    print("\n| backend | prefill ms | decode tok/s | decode vs HF default | decode vs ORT fp32 | greedy tokens = eager |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (prefill, rate, tokens) in rows.items():
        same = int((tokens == reference).sum())
        print(f"| {name} | {prefill:.1f} | {rate:.0f} | {rate / hf_rate:.2f}× | {rate / ort_rate:.2f}× | {same}/{NEW} |")
    print(f"\nfew-row Linear kernels chosen by calibration ({calibration_seconds() * 1e3:.0f} ms in all):")
    print("\n".join(kernel_choices()))
    print(f"\ncompiled decode: torch.compile (inductor) took {decode.compile_seconds:.1f} s in the warm-up "
          f"(cache: {inductor_cache_dir()}; a cold cache adds code generation and the C++ compiler)")


def inductor_cache_dir() -> str:
    from torch._inductor.runtime.cache_dir_utils import cache_dir

    return cache_dir()


if __name__ == "__main__":
    main()
